/**
 * Fault: the network between a real agent process and the real server goes away without a word — no FIN,
 * no RST, a half-open TCP connection — and comes back. The agent runs in its own network namespace and
 * reaches the server (and the fake Messages API) over a veth pair; the test takes the agent's end of the
 * link down, creates a task while it is down, and brings the link back. The agent must notice the dead
 * peer from its unanswered ping, reconnect its push channel once it can, claim, and finish the task.
 *
 * Needs root and `ip netns` (CI runs as root); elsewhere it is skipped with the reason printed.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient, makeAccount } from '../../../server/test/support/api.ts';
import { hasPostgres } from '../../../server/test/support/engines.ts';
import { type FakeAnthropic, startFakeAnthropic, text, write } from '../support/fake-anthropic.ts';
import { makeOrigin, type Origin, tempDir } from '../support/git-fixtures.ts';
import { killAllAgents, spawnAgent, until } from './support/agent-process.ts';
import { figure } from './support/ledger.ts';
import { closeAllServers, type ServerProcess, startServerProcess } from './support/server-process.ts';

function ip(...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** Why this machine cannot run the test, or undefined when it can. */
function cannotRun(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'creating network namespaces and veth pairs needs root';
  const list = ip('netns', 'list');
  if (!list.ok) return `\`ip netns\` is unavailable: ${list.out || 'the ip command failed'}`;
  return undefined;
}

const skipReason = cannotRun();
if (skipReason) console.warn(`[faults] netns-link skipped: ${skipReason}`);

/** A namespace and a veth pair with unique names, and a /30 between them that no interface here uses. */
function makeLink() {
  const id = randomBytes(3).toString('hex');
  const netns = `buildd-${id}`;
  const rootSide = `bd${id}r`;
  const agentSide = `bd${id}a`;
  const used = ip('-4', 'addr').out;
  let net = '';
  for (let i = 0; i < 50 && !net; i++) {
    const candidate = `10.200.${Math.floor(Math.random() * 256)}.${4 * Math.floor(Math.random() * 63)}`;
    const prefix = candidate.split('.').slice(0, 3).join('.');
    if (!used.includes(`${prefix}.`)) net = candidate;
  }
  if (!net) throw new Error('no free 10.200.x.y/30 for the veth pair');
  const [a, b, c, d] = net.split('.').map(Number);
  const serverHost = `${a}.${b}.${c}.${(d ?? 0) + 1}`;
  const agentHost = `${a}.${b}.${c}.${(d ?? 0) + 2}`;
  return {
    netns,
    rootSide,
    agentSide,
    serverHost,
    agentHost,
    create() {
      const steps: string[][] = [
        ['netns', 'add', netns],
        ['link', 'add', rootSide, 'type', 'veth', 'peer', 'name', agentSide, 'netns', netns],
        ['addr', 'add', `${serverHost}/30`, 'dev', rootSide],
        ['link', 'set', rootSide, 'up'],
        ['-n', netns, 'addr', 'add', `${agentHost}/30`, 'dev', agentSide],
        ['-n', netns, 'link', 'set', agentSide, 'up'],
        // The sandbox's network proxy listens on the namespace's loopback.
        ['-n', netns, 'link', 'set', 'lo', 'up'],
      ];
      for (const step of steps) {
        const r = ip(...step);
        if (!r.ok) throw new Error(`ip ${step.join(' ')} failed: ${r.out}`);
      }
    },
    /** The agent's end of the link down or up: nothing is sent, nothing arrives, no socket is told. */
    setAgentSide(state: 'up' | 'down') {
      const r = ip('-n', netns, 'link', 'set', agentSide, state);
      if (!r.ok) throw new Error(`cannot set ${agentSide} ${state}: ${r.out}`);
    },
    /** Removes the namespace (the veth pair goes with it) and, should it be left, the root side. */
    remove() {
      ip('netns', 'del', netns);
      if (ip('link', 'show', rootSide).ok) ip('link', 'del', rootSide);
    },
  };
}

/** Established TCP connections of the server's port with the agent's address, as the root namespace sees them. */
function serverSideConnections(port: number, agentHost: string): number {
  const r = spawnSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter((l) => l.includes(`${agentHost}:`)).length;
}

const link = skipReason ? undefined : makeLink();
let server: ServerProcess;
let anthropic: FakeAnthropic;
let admin: ApiClient;
let root: string;
let origin: Origin;

describe.skipIf(skipReason !== undefined)(
  'the agent’s network link cut and restored (network namespace)',
  () => {
    beforeAll(async () => {
      if (!link) return;
      link.create();
      root = tempDir('buildd-fault-netns-');
      origin = makeOrigin(root);
      const engine = (await hasPostgres()) ? 'postgres' : 'embedded';
      server = await startServerProcess(engine, [], { host: link.serverHost });
      admin = apiClient(server.url, server.adminKey);
      anthropic = await startFakeAnthropic({
        host: link.serverHost,
        script: [
          write('after-the-outage.txt', 'written after the link came back\n'),
          text('Wrote the file.'),
        ],
      });
    }, 120_000);

    afterAll(async () => {
      // Whatever happened above, nothing of this test may outlive it: agents, server, namespace, veths.
      await killAllAgents().catch(() => {});
      await anthropic?.close().catch(() => {});
      await closeAllServers().catch(() => {});
      link?.remove();
      if (root) rmSync(root, { recursive: true, force: true });
    }, 60_000);

    it('notices the dead peer, reconnects, claims the task created during the outage and completes it', async () => {
      if (!link) return;
      const account = await makeAccount(admin, server.url, { type: 'service', name: 'netns-agent' });
      expect((await admin.post('/api/workspaces', { name: 'netns', repoUrl: origin.url })).status).toBe(201);

      const agent = spawnAgent({
        server: server.url,
        apiKey: account.key,
        fakeUrl: anthropic.url,
        netns: link.netns,
        name: 'netns-agent',
        // Pings every second; the claim long poll holds 5 s (its request times out 10 s later).
        args: ['--poll-interval=5', '--channel-ping=1'],
      });
      const logSince = (mark: number) => agent.log().slice(mark);
      /** The agent's JSON log lines written since `mark`. */
      const linesSince = (mark: number): Array<Record<string, unknown>> =>
        logSince(mark)
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      const explain = async () => ({ log: agent.log().split('\n').slice(-20) });
      await until(() => agent.log().includes('push channel connected'), 60_000, 'the push channel', explain);
      const port = Number(new URL(server.url).port);
      const connectionsBefore = serverSideConnections(port, link.agentHost);
      expect(connectionsBefore).toBeGreaterThanOrEqual(1);

      const downMark = agent.log().length;
      const downAt = Date.now();
      link.setAgentSide('down');
      await until(
        () => logSince(downMark).includes('push channel silent (no pong)'),
        30_000,
        'the agent to notice the dead peer',
        explain,
      );
      const detectedMs = Date.now() - downAt;
      // A claim the server took before the link went down may still be held there as a long poll; once the
      // agent has given up on it (and then only), no claim of this agent is open on the server: a task created
      // now can only reach the agent after the link is back.
      await until(() => logSince(downMark).includes('claim failed'), 40_000, 'a failed claim', explain);
      const created = await admin.post('/api/tasks', {
        workspaceId: 'netns',
        title: 'Created while the agent was cut off',
        prompt: 'Write after-the-outage.txt.',
      });
      expect(created.status).toBe(201);
      const taskId = created.body.id as string;
      const task = async () => (await admin.get(`/api/tasks/${taskId}`)).body;
      expect((await task()).status).toBe('pending');
      const downMs = Date.now() - downAt;

      const upMark = agent.log().length;
      const upAt = Date.now();
      link.setAgentSide('up');
      await until(
        () => linesSince(upMark).some((l) => l.msg === 'push channel connected' && l.reconnect === true),
        90_000,
        'the push channel to reconnect',
        explain,
      );
      const reconnectedMs = Date.now() - upAt;
      await until(
        async () => (await task()).status === 'completed',
        90_000,
        'the task to complete',
        async () => ({ task: await task(), ...(await explain()) }),
      );
      const completedMs = Date.now() - upAt;

      // Claimed once, after the link came back, and run to the end by this agent.
      expect(linesSince(upMark).filter((l) => l.msg === 'claimed task')).toHaveLength(1);
      expect(logSince(downMark).slice(0, upMark - downMark)).not.toContain('claimed task');
      const final = await task();
      expect(final.workers).toHaveLength(1);
      expect(final.workers[0]).toMatchObject({ status: 'completed' });
      expect(origin.readFile(final.workers[0].branch, 'after-the-outage.txt')).toBe(
        'written after the link came back',
      );
      // The server-side end of the dead connection is not asserted on: dropping it is the server's job
      // (its own pings), not the agent's. The counts (channel and HTTP keep-alive connections together) are
      // printed for the record, with whether the reconnect's claim or the poll got the task.
      const after = linesSince(upMark).map((l) => l.msg);
      figure('agent link down and up (netns)', {
        detectedDeadPeerMs: detectedMs,
        linkDownMs: downMs,
        upToReconnectedMs: reconnectedMs,
        upToCompletedMs: completedMs,
        claimedAfterReconnect: after.indexOf('claimed task') > after.indexOf('push channel connected'),
        serverSideConnectionsBefore: connectionsBefore,
        serverSideConnectionsAfter: serverSideConnections(port, link.agentHost),
      });
    }, 240_000);
  },
);

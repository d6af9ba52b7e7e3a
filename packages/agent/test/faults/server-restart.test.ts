/**
 * Fault: the server process is killed (SIGKILL) mid-run and started again on the same port and data,
 * once on PGlite and once on PostgreSQL. The agent must ride it out: its run goes on, what it could
 * not deliver waits in its spool and is replayed, and every event arrives exactly once.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiClient } from '../../../server/test/support/api.ts';
import { type Engine, hasPostgres } from '../../../server/test/support/engines.ts';
import { type RunningAgent, startAgent } from '../../src/agent.ts';
import { memoryLog } from '../support/agent-harness.ts';
import { bash, type FakeAnthropic, startFakeAnthropic, text, write } from '../support/fake-anthropic.ts';
import { makeOrigin, type Origin, tempDir } from '../support/git-fixtures.ts';
import { agentConfig, agentHome, removeAgentHomes, until } from './support/agent-process.ts';
import { figure, ledgerOf } from './support/ledger.ts';
import { closeAllServers, startServerProcess } from './support/server-process.ts';

let anthropic: FakeAnthropic;
let root: string;
let origin: Origin;
let agent: RunningAgent | undefined;

beforeEach(async () => {
  root = tempDir('buildd-fault-restart-');
  origin = makeOrigin(root);
  anthropic = await startFakeAnthropic({
    script: [
      write('a.txt', 'before the outage\n'),
      bash('python3 -c "import time; time.sleep(3)"'),
      write('b.txt', 'during the outage\n'),
      text('Wrote a.txt and b.txt.'),
    ],
  });
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  removeAgentHomes();
  await closeAllServers();
  await anthropic?.close();
  rmSync(root, { recursive: true, force: true });
});

/** What the agent sent as event batches, and what the server said it stored of them. */
function eventTraffic() {
  const seen = { sent: 0, acknowledged: 0, stored: 0, failed: 0 };
  const recordingFetch: typeof fetch = async (input, init) => {
    const isEvents = init?.method === 'POST' && String(input).endsWith('/events');
    const count = isEvents ? (JSON.parse(String(init?.body)).events as unknown[]).length : 0;
    seen.sent += count;
    try {
      const response = await fetch(input, init);
      if (isEvents && response.ok) {
        const body = (await response.clone().json()) as { stored: number };
        seen.acknowledged += count;
        seen.stored += body.stored;
      }
      return response;
    } catch (error) {
      seen.failed += count;
      throw error;
    }
  };
  return { seen, recordingFetch };
}

const legs: Engine[] = ['embedded', 'postgres'];

describe.each(legs)('the server killed and restarted mid-run (%s)', (engine) => {
  it('the agent rides it out: task completed, commit pushed, every event exactly once', async (ctx) => {
    if (engine === 'postgres' && !(await hasPostgres())) ctx.skip();
    // A lease longer than the outage: the restarted server must not reap a worker that is fine.
    const server = await startServerProcess(engine, [
      '--lease-seconds=30',
      '--renew-seconds=1',
      '--reap-interval=1',
    ]);
    const admin = apiClient(server.url, server.adminKey);
    expect((await admin.post('/api/workspaces', { name: 'restart', repoUrl: origin.url })).status).toBe(201);
    const created = await admin.post('/api/tasks', {
      workspaceId: 'restart',
      title: 'Write two files',
      prompt: 'Write a.txt, think, then write b.txt.',
    });
    expect(created.status).toBe(201);
    const taskId = created.body.id as string;

    const at = agentHome();
    const { seen, recordingFetch } = eventTraffic();
    const logs = memoryLog();
    const config = agentConfig(at, { server: server.url, apiKey: server.adminKey, fakeUrl: anthropic.url });
    agent = startAgent(config, { fetch: recordingFetch, log: logs.log });

    const served = (name: string) =>
      anthropic.requests.some((r) => r.step?.kind === 'tool' && r.step.name === name);
    await until(() => served('Bash'), 30_000, 'the run to reach its slow step');
    const killedAt = Date.now();
    await server.kill();
    // The run goes on without the server; let it end (events and final report pile up in the spool).
    await until(() => anthropic.requests.some((r) => r.step?.kind === 'text'), 30_000, 'the run to finish');
    await new Promise((r) => setTimeout(r, 1500));
    const restartAt = Date.now();
    await server.start();
    const downMs = Date.now() - killedAt;

    const task = async () => (await admin.get(`/api/tasks/${taskId}`)).body;
    await until(
      async () => (await task()).status === 'completed',
      45_000,
      'the task to complete',
      async () => ({ task: await task(), log: logs.lines.slice(-15) }),
    );
    const deliveredMs = Date.now() - restartAt;
    await agent.stop();
    agent = undefined;

    const final = await task();
    expect(final.workers).toHaveLength(1);
    const worker = final.workers[0];
    expect(worker).toMatchObject({ status: 'completed', exitCause: 'completed' });
    expect(final.result.commitSha).toBe(worker.commitSha);
    expect(origin.readFile(worker.branch, 'a.txt')).toBe('before the outage');
    expect(origin.readFile(worker.branch, 'b.txt')).toBe('during the outage');
    expect(logs.count('claimed task')).toBe(1);

    const ledger = await ledgerOf(admin, taskId, worker.id);
    expect(ledger.lost).toBe(0);
    expect(ledger.duplicated).toBe(0);
    expect(ledger.stored).toBe(ledger.lastEventSeq);
    // The last event the agent produced (the run's final status) is the last one stored: none after it lost.
    expect(ledger.last).toMatchObject({ type: 'status', data: { status: 'completed' } });
    // Some events had to wait for the server (that is the point of this test).
    expect(seen.failed).toBeGreaterThan(0);

    figure(`server SIGKILL + restart (${engine})`, {
      downMs,
      restartToCompletedMs: deliveredMs,
      eventsProduced: ledger.lastEventSeq,
      eventsStored: ledger.stored,
      eventsLost: ledger.lost,
      eventsDuplicated: ledger.duplicated,
      sendsFailedDuringOutage: seen.failed,
      resentIgnoredByServer: seen.acknowledged - seen.stored,
    });
  }, 240_000); // two server starts, an outage and a sandboxed run: minutes on a machine busy with other work
});

// What connected agents and viewers cost one buildd-server process (on PostgreSQL): RSS and CPU per minute
// with 1,000 idle agents (push channel + the agent's 10 s long-poll claims, from a load generator, not 1,000
// processes) and with 10,000 push connections; and database transactions/s and server CPU with 10 and with
// 1,000 SSE viewers of one running task that emits 20 events/s. Figures, not a test.
import { fork, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createScratchDatabase } from '../packages/agent/test/faults/support/postgres-db.ts';
import { type ApiClient, apiClient, makeAccount } from '../packages/server/test/support/api.ts';
import { cpuMs } from './proc.ts';
import { spawnServer } from './spawn-server.ts';

const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const viewSeconds = Number(process.env.BENCH_VIEW_SECONDS ?? 20);
const agentCount = Number(process.env.BENCH_IDLE_AGENTS ?? 1000);
const connectionCount = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
/** The stream guard admits 32 SSE streams per key and process: viewers are spread over keys. */
const viewersPerKey = 25;
/** The server's agents table keeps 100 agents per account: simulated agents are spread over accounts. */
const agentsPerAccount = 50;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  return cpuMs(pid) / 1000;
}

/** Resident memory of a process, MB. */
function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** Raises a process's open-file limit (as root, hard limit too) when it is below `want`. */
function raiseFileLimit(pid: number, want: number): string {
  const soft = Number(/Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1] ?? 0);
  if (soft >= want) return `${soft}`;
  const r = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${want}:${want}`], { encoding: 'utf8' });
  return r.status === 0 ? `${want}` : `${soft} (prlimit failed: ${r.stderr.trim()})`;
}

interface Window {
  seconds: number;
  cpuPerMinute: number;
  rss: number;
  transactionsPerSecond: number;
  load: string;
}

/** Watches the server process and the database over `seconds`. */
async function measure(pid: number, xacts: () => Promise<number>, seconds: number): Promise<Window> {
  const cpu0 = cpuSeconds(pid);
  const x0 = await xacts();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const x1 = await xacts();
  return {
    seconds: Math.round(elapsed),
    cpuPerMinute: Math.round((cpu / elapsed) * 60 * 100) / 100,
    rss: rssMb(pid),
    transactionsPerSecond: Math.round(((x1 - x0) / elapsed) * 10) / 10,
    load: load(),
  };
}

/** Opens push-channel WebSockets, `parallel` upgrades at a time; they answer pings on their own (ws does). */
async function openChannels(url: string, keys: string[], from: number, count: number, parallel = 100) {
  const sockets: WebSocket[] = [];
  let next = from;
  const worker = async () => {
    while (next < from + count) {
      const i = next++;
      const ws = new WebSocket(`${url.replace('http', 'ws')}/api/agents/channel?agentId=sim-${i}`, {
        headers: { authorization: `Bearer ${keys[i % keys.length]}` },
      });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.on('error', () => {});
      sockets.push(ws);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return sockets;
}

/**
 * The claim loop of an idle agent at its defaults (poll interval 10 s → long polls of 10 s, one after the
 * other, at once again on a hint), for `count` simulated agents; starts spread over one interval.
 */
function pollLikeAgents(url: string, keys: string[], count: number) {
  let stopped = false;
  let claims = 0;
  const failures = new Map<string, number>();
  const note = (why: string) => failures.set(why, (failures.get(why) ?? 0) + 1);
  const loops = Array.from({ length: count }, async (_, i) => {
    await sleep(Math.random() * 10_000);
    while (!stopped) {
      const started = Date.now();
      try {
        const res = await fetch(`${url}/api/workers/claim`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${keys[Math.floor(i / agentsPerAccount) % keys.length]}`,
            'content-type': 'application/json',
            'x-buildd-agent-id': `sim-${i}`,
          },
          body: JSON.stringify({
            maxTasks: 3,
            waitSeconds: 10,
            agentId: `sim-${i}`,
            agentName: `sim-${i}`,
            host: 'bench',
            version: 'bench',
            capabilities: ['git', 'node'],
            authType: 'api',
            sandboxed: true,
          }),
          signal: AbortSignal.timeout(20_000),
        });
        await res.arrayBuffer();
        claims += 1;
        if (!res.ok) note(`HTTP ${res.status}`);
      } catch (error) {
        note((error as Error).name === 'TimeoutError' ? 'no answer in 20 s' : (error as Error).message);
      }
      // An empty answer waits out the rest of the poll interval (none, after a 10 s long poll).
      await sleep(Math.max(0, 10_000 - (Date.now() - started)));
    }
  });
  return {
    counts: () => ({
      claims,
      failures: [...failures].map(([why, n]) => `${n} × ${why}`).join(', ') || 'none',
    }),
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Viewers in their own process (bench/sse-viewers.ts): opened, then asked how many events they got. */
async function startViewers(url: string, keys: string[], viewers: number) {
  const child = fork(fileURLToPath(new URL('./sse-viewers.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise<{ ready?: boolean; refused?: number; delivered?: number }>((resolve) =>
      child.once('message', (m) => resolve(m as { refused?: number; delivered?: number })),
    );
  const ready = next();
  child.send({ url, keys, viewers, perKey: viewersPerKey });
  const { refused = 0 } = await ready;
  return {
    refused,
    async delivered() {
      const answer = next();
      child.send('count');
      return (await answer).delivered ?? 0;
    },
    close: () => child.kill('SIGKILL'),
  };
}

/** `viewers` SSE clients on one running task that gets 20 events/s for `seconds`. */
async function viewersCost(
  url: string,
  pid: number,
  admin: ApiClient,
  xacts: () => Promise<number>,
  viewers: number,
) {
  const ws = `view-${viewers}`;
  await admin.post('/api/workspaces', { name: ws });
  const task = await admin.post('/api/tasks', { workspaceId: ws, title: 'watched', prompt: 'p' });
  const runner = await makeAccount(admin, url, { type: 'service' });
  const agentHeaders = {
    authorization: `Bearer ${runner.key}`,
    'content-type': 'application/json',
    'x-buildd-agent-id': 'runner',
  };
  const claim = await fetch(`${url}/api/workers/claim`, {
    method: 'POST',
    headers: agentHeaders,
    body: JSON.stringify({ maxTasks: 1, authType: 'api', agentId: 'runner', workspaceIds: [ws] }),
  });
  const workerId = ((await claim.json()) as { workers: Array<{ id: string }> }).workers[0]!.id;
  await fetch(`${url}/api/workers/${workerId}`, {
    method: 'PATCH',
    headers: agentHeaders,
    body: JSON.stringify({ status: 'running' }),
  });
  const keys: string[] = [];
  for (let i = 0; i < Math.ceil(viewers / viewersPerKey); i++)
    keys.push((await makeAccount(admin, url, { type: 'user' })).key);
  const clients = await startViewers(`${url}/api/tasks/${task.body.id}/stream`, keys, viewers);
  const refused = clients.refused;
  await sleep(2000);
  // The run: 20 events a second, whatever the server's pace. Like the agent's outbox, one batch is in
  // flight at a time and what the run produced meanwhile goes in the next batch.
  let seq = 0;
  let sentUpTo = 0;
  let batches = 0;
  let stop = false;
  const postMs: number[] = [];
  const start = performance.now();
  const cpuAtStart = cpuSeconds(pid);
  const producer = setInterval(() => {
    seq += 1;
  }, 50);
  const emitter = (async () => {
    while (!stop || sentUpTo < seq) {
      if (sentUpTo === seq) {
        await sleep(10);
        continue;
      }
      const upTo = seq;
      const events = [];
      for (let n = sentUpTo + 1; n <= upTo; n++)
        events.push({
          seq: n,
          type: 'assistant_text',
          at: new Date().toISOString(),
          data: { text: `line ${n}` },
        });
      const sent = performance.now();
      const res = await fetch(`${url}/api/workers/${workerId}/events`, {
        method: 'POST',
        headers: agentHeaders,
        body: JSON.stringify({ events }),
      });
      await res.arrayBuffer();
      postMs.push(performance.now() - sent);
      if (res.ok) {
        sentUpTo = upTo;
        batches += 1;
      }
    }
  })();
  const batches0 = batches;
  const w = await measure(pid, xacts, viewSeconds);
  const batchesInWindow = batches - batches0;
  clearInterval(producer);
  const emittedPerSecond = Math.round(seq / ((performance.now() - start) / 1000));
  stop = true;
  await emitter;
  // A busy server falls behind its viewers: wait until what was stored has reached them (or stops moving).
  let delivered = await clients.delivered();
  for (let still = 0; delivered < seq * (viewers - clients.refused) && still < 5; ) {
    await sleep(1000);
    const now = await clients.delivered();
    still = now === delivered ? still + 1 : 0;
    delivered = now;
  }
  const cpuUsPerCopy = Math.round(((cpuSeconds(pid) - cpuAtStart) * 1e6) / Math.max(1, delivered));
  clients.close();
  postMs.sort((a, b) => a - b);
  const postP50 = Math.round(postMs[Math.floor(postMs.length / 2)] ?? 0);
  return {
    ...w,
    viewers,
    refused,
    emittedPerSecond,
    batchesPerSecond: Math.round((batchesInWindow / w.seconds) * 10) / 10,
    delivered,
    expected: seq * (viewers - refused),
    postP50,
    cpuUsPerCopy: cpuUsPerCopy,
  };
}

/** The connections section of `npm run bench`. */
export async function benchConnections(): Promise<string[]> {
  const lines: string[] = [];
  const database = await createScratchDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'buildd-bench-conn-'));
  const adminKey = `buildd_user_${randomBytes(32).toString('base64url')}`;
  const server = await spawnServer(
    { BUILDD_ADMIN_KEY: adminKey, BUILDD_CONFIG_DIR: join(dir, 'config'), DATABASE_URL: database.url },
    [],
  );
  const pid = server.child.pid!;
  const want = connectionCount + agentCount + 2000;
  const limits = `open files: server ${raiseFileLimit(pid, want)}, load generator ${raiseFileLimit(process.pid, want)}`;
  const xacts = async () =>
    Number(
      (
        await database.query<{ n: string }>(
          'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
        )
      )[0]!.n,
    );
  const sockets: WebSocket[] = [];
  try {
    const admin = apiClient(server.url, adminKey);
    const keys: string[] = [];
    for (let i = 0; i < Math.ceil(agentCount / agentsPerAccount); i++)
      keys.push((await makeAccount(admin, server.url, { type: 'service' })).key);
    const idle = await measure(pid, xacts, Math.min(idleSeconds, 20));
    lines.push(
      `no connections:                       RSS ${idle.rss} MB, CPU ${idle.cpuPerMinute} core-s/min, ${idle.transactionsPerSecond} db transactions/s (load ${idle.load}; ${limits})`,
    );

    sockets.push(...(await openChannels(server.url, keys, 0, agentCount)));
    await sleep(3000);
    const channels = await measure(pid, xacts, idleSeconds);
    lines.push(
      `${agentCount} push channels, no polling:   RSS ${channels.rss} MB, CPU ${channels.cpuPerMinute} core-s/min, ${channels.transactionsPerSecond} db transactions/s (${channels.seconds} s, load ${channels.load})`,
    );

    const pollers = pollLikeAgents(server.url, keys, agentCount);
    await sleep(12_000); // every agent has started its loop
    const before = pollers.counts();
    const agents = await measure(pid, xacts, idleSeconds);
    const after = pollers.counts();
    await pollers.stop();
    lines.push(
      `${agentCount} idle agents (channel + 10 s long-poll claims): RSS ${agents.rss} MB, CPU ${agents.cpuPerMinute} core-s/min, ` +
        `${agents.transactionsPerSecond} db transactions/s, ${Math.round(((after.claims - before.claims) / agents.seconds) * 10) / 10} claims/s answered, ` +
        `failed: ${after.failures} (${agents.seconds} s, load ${agents.load})`,
    );

    sockets.push(...(await openChannels(server.url, keys, agentCount, connectionCount - agentCount)));
    await sleep(5000);
    const many = await measure(pid, xacts, idleSeconds);
    lines.push(
      `${connectionCount} push connections on one server: RSS ${many.rss} MB, CPU ${many.cpuPerMinute} core-s/min, ${many.transactionsPerSecond} db transactions/s (${many.seconds} s, load ${many.load}; target ≤ 500 MB, < 1 core-s/min)`,
    );
    for (const s of sockets) s.terminate();
    sockets.length = 0;
    await sleep(3000);

    for (const n of [10, 1000]) {
      const v = await viewersCost(server.url, pid, admin, xacts, n);
      lines.push(
        `viewers ${String(n).padStart(5)}: ${v.emittedPerSecond} events/s produced, stored in ${v.batchesPerSecond} batches/s → ${v.transactionsPerSecond} db transactions/s, server CPU ${v.cpuPerMinute} core-s/min, ` +
          `RSS ${v.rss} MB, event POST p50 ${v.postP50} ms, ${v.delivered}/${v.expected} events delivered, ${v.cpuUsPerCopy} µs server CPU per event delivered to one viewer${v.refused ? `, ${v.refused} streams refused` : ''} (${v.seconds} s, load ${v.load})`,
      );
    }
  } finally {
    for (const s of sockets) s.terminate();
    await server.stop();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

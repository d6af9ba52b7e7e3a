import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { newApiKey } from '../packages/server/src/ids.ts';
import { type ApiClient, apiClient, makeAccount } from '../packages/server/test/support/api.ts';
import { type ChannelAgent, channelAgent } from '../packages/server/test/support/channel-agent.ts';
import { cpuMs } from './proc.ts';
import { type SpawnedServer, spawnServer } from './spawn-server.ts';

const postgresAdminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const database = 'buildd_bench_live';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) * 10) / 10;
};
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let workspaceCount = 0;
async function newWorkspace(admin: ApiClient): Promise<string> {
  const name = `live-${++workspaceCount}`;
  await admin.post('/api/workspaces', { name });
  return name;
}

/** What the agents of one figure saw: when each task's claim came back, and which tasks they are done with. */
interface Seen {
  claimedAt: Map<string, number>;
  /** Tasks whose worker was completed again (the agent is idle once more); unused when agents stay busy. */
  done: Set<string>;
}

/**
 * `n` tasks created one after another through `create`, each once the agents are idle again; each time, how
 * long until one of the agents had it.
 */
async function timeDispatch(
  create: ApiClient,
  workspace: string,
  n: number,
  seen: Seen,
  waitDone: boolean,
  /** Wait up to this long (uniformly) before each task, so that it lands anywhere in a poll interval. */
  jitterMs = 0,
): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    if (jitterMs > 0) await sleep(Math.random() * jitterMs);
    const t0 = performance.now();
    const task = await create.post('/api/tasks', { workspaceId: workspace, title: `t${i}`, prompt: 'p' });
    const id = task.body.id as string;
    const deadline = Date.now() + 60_000;
    while (!seen.claimedAt.has(id) || (waitDone && !seen.done.has(id))) {
      if (Date.now() > deadline) throw new Error(`task ${id} was not claimed within 60 s`);
      await sleep(1);
    }
    ms.push(seen.claimedAt.get(id)! - t0);
  }
  return ms;
}

/** Ends a claimed worker at once, so that its agent (maxTasks 1) is idle again. */
async function complete(api: ApiClient, workerId: string): Promise<void> {
  await api.patch(`/api/workers/${workerId}`, { status: 'running' });
  await api.patch(`/api/workers/${workerId}`, { status: 'completed', summary: 'ok' });
}

/** Push: one idle simulated agent (channel on `agentServer`, claims only when hinted); tasks made on `createServer`. */
async function pushDispatch(agentServer: string, createServer: string, adminKey: string, n: number) {
  const admin = apiClient(agentServer, adminKey);
  const ws = await newWorkspace(admin);
  const acct = await makeAccount(admin, agentServer, { type: 'service', maxConcurrentWorkers: 1000 });
  const agent = await channelAgent({
    channelUrl: agentServer,
    key: acct.key,
    agentId: `push-${ws}`,
    maxTasks: 1,
  });
  const seen: Seen = { claimedAt: new Map(), done: new Set() };
  agent.onClaimed = (w, at) => {
    seen.claimedAt.set(w.taskId, at);
    void complete(acct.api, w.id).then(() => seen.done.add(w.taskId));
  };
  try {
    return await timeDispatch(apiClient(createServer, adminKey), ws, n, seen, true);
  } finally {
    agent.close();
  }
}

/**
 * No push: an idle agent that claims in a loop against `agentServer`, either long polls (`waitSeconds`, what
 * buildd-agent does between its polls) or plain claims every `pollMs` (an older agent).
 */
async function pollDispatch(
  agentServer: string,
  createServer: string,
  adminKey: string,
  n: number,
  mode: { waitSeconds: number } | { pollMs: number },
) {
  const admin = apiClient(agentServer, adminKey);
  const ws = await newWorkspace(admin);
  const acct = await makeAccount(admin, agentServer, { type: 'service', maxConcurrentWorkers: 1000 });
  const seen: Seen = { claimedAt: new Map(), done: new Set() };
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const started = performance.now();
      const res = await acct.api.post('/api/workers/claim', {
        maxTasks: 1,
        authType: 'api',
        agentId: `poll-${ws}`,
        workspaceIds: [ws],
        waitSeconds: 'waitSeconds' in mode ? mode.waitSeconds : 0,
      });
      const at = performance.now();
      for (const w of res.body?.workers ?? []) {
        seen.claimedAt.set(w.taskId, at);
        await complete(acct.api, w.id);
        seen.done.add(w.taskId);
      }
      if ('pollMs' in mode && !res.body?.workers?.length)
        await sleep(mode.pollMs - (performance.now() - started));
    }
  })();
  try {
    const jitter = 'pollMs' in mode ? mode.pollMs : 0;
    return await timeDispatch(apiClient(createServer, adminKey), ws, n, seen, true, jitter);
  } finally {
    stop = true;
    // A last task ends the long poll in progress.
    await apiClient(createServer, adminKey).post('/api/tasks', {
      workspaceId: ws,
      title: 'end',
      prompt: 'p',
    });
    await loop;
  }
}

/**
 * The herd: `agents` idle simulated agents connected (split over `servers`, 100 per account), `tasks` tasks
 * created one after another; claim requests caused by hints per created task.
 */
async function herd(servers: SpawnedServer[], adminKey: string, agents: number, tasks: number) {
  const admin = apiClient(servers[0]!.url, adminKey);
  const ws = await newWorkspace(admin);
  const all: ChannelAgent[] = [];
  const seen: Seen = { claimedAt: new Map(), done: new Set() };
  try {
    for (let a = 0; a < Math.ceil(agents / 100); a++) {
      const acct = await makeAccount(admin, servers[0]!.url, { type: 'service', maxConcurrentWorkers: 200 });
      const count = Math.min(100, agents - a * 100);
      for (let start = 0; start < count; start += 50) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(50, count - start) }, (_, i) => {
            const k = a * 100 + start + i;
            const url = servers[k % servers.length]!.url;
            return channelAgent({
              channelUrl: url,
              key: acct.key,
              agentId: `herd-${ws}-${k}`,
              workspaceIds: [ws],
            });
          }),
        );
        for (const agent of batch) agent.onClaimed = (w, at) => seen.claimedAt.set(w.taskId, at);
        all.push(...batch);
      }
    }
    await sleep(1000);
    const cpu0 = servers.map((s) => cpuMs(s.child.pid));
    const ms: number[] = [];
    const create = apiClient(servers[servers.length - 1]!.url, adminKey);
    for (let i = 0; i < tasks; i++) {
      ms.push(...(await timeDispatch(create, ws, 1, seen, false)));
      // Let hints still in flight land before the next task.
      await sleep(300);
    }
    await sleep(1000);
    const cpu = servers.reduce((n, s, i) => n + cpuMs(s.child.pid) - cpu0[i]!, 0);
    const claims = all.reduce((n, x) => n + x.hintClaims, 0);
    const hints = all.reduce((n, x) => n + x.hints, 0);
    return {
      claimsPerTask: Math.round((claims / tasks) * 100) / 100,
      hintsPerTask: Math.round((hints / tasks) * 100) / 100,
      claimed: seen.claimedAt.size,
      p50: pct(ms, 50),
      p99: pct(ms, 99),
      serverCpuMsPerTask: Math.round(cpu / tasks),
    };
  } finally {
    for (const agent of all) agent.close();
  }
}

/** The live section of `npm run bench`. */
export async function benchLive(): Promise<string[]> {
  const lines: string[] = [];
  const adminKey = newApiKey('user');
  const c = new pg.Client({ connectionString: postgresAdminUrl });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${database}`);
  await c.end();
  const env = {
    DATABASE_URL: postgresAdminUrl.replace(/\/[^/]*$/, `/${database}`),
    BUILDD_ADMIN_KEY: adminKey,
    BUILDD_CONFIG_DIR: join(tmpdir(), 'buildd-bench-live-cfg'),
  };
  const a = await spawnServer(env);
  const b = await spawnServer(env);
  const n = Number(process.env.BENCH_DISPATCH ?? 100);
  const show = (what: string, ms: number[]) =>
    lines.push(
      `${what.padEnd(44)} p50 ${pct(ms, 50)} ms   p99 ${pct(ms, 99)} ms   (${ms.length} tasks, load ${load()})`,
    );
  try {
    lines.push(`load average at start: ${load()}`);
    show('dispatch, push, one server:', await pushDispatch(a.url, a.url, adminKey, n));
    show('dispatch, push, across replicas:', await pushDispatch(a.url, b.url, adminKey, n));
    show(
      'dispatch, long poll (no push), one server:',
      await pollDispatch(a.url, a.url, adminKey, n, { waitSeconds: 10 }),
    );
    show(
      'dispatch, long poll, across replicas:',
      await pollDispatch(a.url, b.url, adminKey, n, { waitSeconds: 10 }),
    );
    const pollMs = Number(process.env.BENCH_POLL_MS ?? 10_000);
    show(
      `dispatch, poll only (a claim every ${pollMs / 1000} s):`,
      await pollDispatch(a.url, a.url, adminKey, Number(process.env.BENCH_POLL_SAMPLES ?? 12), { pollMs }),
    );
    const agents = Number(process.env.BENCH_HERD_AGENTS ?? 1000);
    const tasks = Number(process.env.BENCH_HERD_TASKS ?? 20);
    for (const servers of [[a], [a, b]]) {
      const h = await herd(servers, adminKey, agents, tasks);
      lines.push(
        `herd, ${agents} idle agents on ${servers.length} server(s), ${tasks} tasks one by one: ` +
          `${h.claimsPerTask} claim requests and ${h.hintsPerTask} hints per task, ${h.claimed}/${tasks} claimed, ` +
          `dispatch p50 ${h.p50} ms p99 ${h.p99} ms, server CPU ${h.serverCpuMsPerTask} ms per task (load ${load()})`,
      );
    }
  } finally {
    await a.stop();
    await b.stop();
    const d = new pg.Client({ connectionString: postgresAdminUrl });
    await d.connect();
    await d.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await d.end();
  }
  return lines;
}

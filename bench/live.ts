// Live figures: push dispatch latency on one server and across two replicas, and what 1,000 SSE viewers of
// one running task cost the database. Figures, not a test.
import { pino } from 'pino';
import WebSocket from 'ws';
import { startServer } from '../packages/server/src/server.ts';
import { apiClient, makeAccount } from '../packages/server/test/support/api.ts';
import { startTestServer } from '../packages/server/test/support/server.ts';
import { openSse } from '../packages/server/test/support/sse.ts';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 10) / 10;
};

/** Created → claimed by an idle agent that claims when its channel hints, `n` times in sequence. */
async function dispatch(createUrl: string, agentUrl: string, adminKey: string, n: number) {
  const admin = apiClient(createUrl, adminKey);
  const ws = `bench-${Math.random().toString(36).slice(2, 7)}`;
  await admin.post('/api/workspaces', { name: ws });
  const agent = await makeAccount(apiClient(agentUrl, adminKey), agentUrl, {
    type: 'service',
    maxConcurrentWorkers: 1000,
  });
  const socket = new WebSocket(`${agentUrl.replace('http', 'ws')}/api/agents/channel?agentId=bench`, {
    headers: { authorization: `Bearer ${agent.key}` },
  });
  await new Promise((r, j) => socket.once('open', r).once('error', j));
  let waiting: ((at: number) => void) | null = null;
  socket.on('message', async (raw) => {
    if (JSON.parse(String(raw)).type !== 'tasks_available' || !waiting) return;
    const claim = await agent.api.post('/api/workers/claim', {
      maxTasks: 1,
      authType: 'api',
      agentId: 'bench',
      workspaceIds: [ws],
    });
    if (claim.body.workers?.length && waiting) {
      const done = waiting;
      waiting = null;
      done(performance.now());
    }
  });
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const claimed = new Promise<number>((r) => {
      waiting = r;
    });
    const t0 = performance.now();
    await admin.post('/api/tasks', { workspaceId: ws, title: `t${i}`, prompt: 'p' });
    ms.push((await claimed) - t0);
  }
  socket.close();
  return { p50: pct(ms, 50), p99: pct(ms, 99) };
}

const xacts = async (db: { query: <T>(s: string) => Promise<T[]> }) =>
  Number(
    (
      await db.query<{ n: string }>(
        'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
      )
    )[0]!.n,
  );

/** `viewers` SSE clients on one running task that gets 20 events/s for `seconds`: transactions/s. */
async function viewersCost(viewers: number, seconds: number) {
  const t = await startTestServer({ engine: 'postgres', live: { maxStreamsPerKey: viewers + 10 } });
  const admin = apiClient(t.url, t.adminKey);
  try {
    await admin.post('/api/workspaces', { name: 'v' });
    const task = await admin.post('/api/tasks', { workspaceId: 'v', title: 't', prompt: 'p' });
    const agent = await makeAccount(admin, t.url, { type: 'service' });
    const w = (await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a' }))
      .body.workers[0];
    const streams = [];
    for (let i = 0; i < viewers; i++)
      streams.push(await openSse(`${t.url}/api/tasks/${task.body.id}/stream`, t.adminKey));
    await new Promise((r) => setTimeout(r, 1000));
    const x0 = await xacts(t.db);
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    let seq = 0;
    while (performance.now() - start < seconds * 1000) {
      await agent.api.post(`/api/workers/${w.id}/events`, {
        events: [{ seq: seq++, type: 'assistant_text', at: new Date().toISOString(), data: { seq } }],
      });
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500));
    const elapsed = (performance.now() - start) / 1000;
    const x1 = await xacts(t.db);
    const cpu = process.cpuUsage(cpu0);
    const got = streams.reduce((n, s) => n + s.events.filter((e) => e.event === 'progress').length, 0);
    for (const s of streams) s.close();
    return {
      viewers,
      eventsPerSecond: Math.round(seq / elapsed),
      transactionsPerSecond: Math.round((x1 - x0) / elapsed),
      delivered: got,
      expected: seq * viewers,
      cpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 100),
    };
  } finally {
    await t.close();
  }
}

/** The live section of `npm run bench`. */
export async function benchLive(): Promise<string[]> {
  const lines: string[] = [];
  const a = await startTestServer({ engine: 'postgres' });
  try {
    const one = await dispatch(a.url, a.url, a.adminKey, Number(process.env.BENCH_DISPATCH ?? 100));
    lines.push(`dispatch, push, one server:      p50 ${one.p50} ms   p99 ${one.p99} ms`);
    const b = await startServer({
      db: a.db,
      log: pino({ level: 'silent' }),
      host: '127.0.0.1',
      port: 0,
      leaseSeconds: 60,
      renewSeconds: 15,
      reapIntervalSeconds: 3600,
    });
    try {
      const two = await dispatch(b.url, a.url, a.adminKey, Number(process.env.BENCH_DISPATCH ?? 100));
      lines.push(`dispatch, push, across replicas: p50 ${two.p50} ms   p99 ${two.p99} ms`);
    } finally {
      await b.close();
    }
  } finally {
    await a.close();
  }
  for (const n of [10, 1000]) {
    const f = await viewersCost(n, Number(process.env.BENCH_VIEW_SECONDS ?? 10));
    lines.push(
      `viewers ${String(f.viewers).padStart(5)}: ${f.eventsPerSecond} events/s → ${f.transactionsPerSecond} database transactions/s, ` +
        `${f.delivered}/${f.expected} events delivered, bench process (server + clients) CPU ${f.cpuPercent} %`,
    );
  }
  return lines;
}

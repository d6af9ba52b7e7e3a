import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { newApiKey } from '../packages/server/src/ids.ts';
import { apiClient, makeAccount } from '../packages/server/test/support/api.ts';
import { spawnServer } from './spawn-server.ts';

const postgresAdminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface LifecycleFigures {
  engine: string;
  tasks: number;
  claimers: number;
  seconds: number;
  lifecyclesPerSecond: number;
  claimP50Ms: number;
  claimP99Ms: number;
  /** CPU time the server process spent per lifecycle (user + system), from /proc. */
  serverCpuMsPerLifecycle: number;
  /** CPU time of all PostgreSQL processes per lifecycle (PostgreSQL leg only). */
  postgresCpuMsPerLifecycle: number | null;
}

/** CPU milliseconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** Total CPU milliseconds of every process named `postgres` (the server and its backends). */
function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += cpuMs(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

/**
 * Full task lifecycles (claim → PATCH running → PATCH completed) through HTTP against a buildd-server in
 * its own process, with `claimers` concurrent claimers; the server's database is fresh for each run.
 */
export async function benchLifecycles(
  engine: 'pglite' | 'postgres',
  tasks = 3000,
  claimers = 32,
): Promise<LifecycleFigures> {
  const adminKey = newApiKey('user');
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  if (engine === 'postgres') {
    const c = new pg.Client({ connectionString: postgresAdminUrl });
    await c.connect();
    await c.query('DROP DATABASE IF EXISTS buildd_bench');
    await c.query('CREATE DATABASE buildd_bench');
    await c.end();
    env = { DATABASE_URL: postgresAdminUrl.replace(/\/[^/]*$/, '/buildd_bench') };
    cleanup = async () => {
      const d = new pg.Client({ connectionString: postgresAdminUrl });
      await d.connect();
      await d.query('DROP DATABASE IF EXISTS buildd_bench WITH (FORCE)');
      await d.end();
    };
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'buildd-bench-'));
    env = { BUILDD_DATA_DIR: dir };
    cleanup = () => rm(dir, { recursive: true, force: true });
  }
  const server = await spawnServer({
    ...env,
    BUILDD_ADMIN_KEY: adminKey,
    BUILDD_CONFIG_DIR: join(tmpdir(), 'buildd-bench-cfg'),
  });
  try {
    const admin = apiClient(server.url, adminKey);
    const ws = await admin.post('/api/workspaces', { name: 'bench' });
    for (let start = 0; start < tasks; start += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, tasks - start) }, (_, i) =>
          admin.post('/api/tasks', { workspaceId: ws.body.id, title: `t${start + i}`, prompt: 'p' }),
        ),
      );
    }
    const accounts = await Promise.all(
      Array.from({ length: 4 }, () =>
        makeAccount(admin, server.url, { type: 'service', maxConcurrentWorkers: 100 }),
      ),
    );
    const latencies: number[] = [];
    let done = 0;
    const serverPid = server.child.pid ?? 0;
    const cpuBefore = cpuMs(serverPid);
    const pgBefore = engine === 'postgres' ? postgresCpuMs() : 0;
    const began = performance.now();
    await Promise.all(
      Array.from({ length: claimers }, async (_, i) => {
        const { api } = accounts[i % accounts.length]!;
        for (;;) {
          const t0 = performance.now();
          const res = await api.post('/api/workers/claim', {
            maxTasks: 1,
            authType: 'api',
            agentId: `bench-${i}`,
          });
          latencies.push(performance.now() - t0);
          const w = res.body?.workers?.[0];
          if (!w) break;
          await api.patch(`/api/workers/${w.id}`, { status: 'running' });
          const fin = await api.patch(`/api/workers/${w.id}`, { status: 'completed', summary: 'ok' });
          if (fin.status !== 200) throw new Error(`completion failed: ${fin.status}`);
          done++;
        }
      }),
    );
    const seconds = (performance.now() - began) / 1000;
    const serverCpu = cpuMs(serverPid) - cpuBefore;
    const pgCpu = engine === 'postgres' ? postgresCpuMs() - pgBefore : null;
    if (done !== tasks) throw new Error(`only ${done} of ${tasks} lifecycles completed`);
    latencies.sort((a, b) => a - b);
    return {
      engine,
      tasks,
      claimers,
      seconds: Number(seconds.toFixed(2)),
      lifecyclesPerSecond: Math.round(done / seconds),
      claimP50Ms: Number(pct(latencies, 50).toFixed(1)),
      claimP99Ms: Number(pct(latencies, 99).toFixed(1)),
      serverCpuMsPerLifecycle: Number((serverCpu / done).toFixed(2)),
      postgresCpuMsPerLifecycle: pgCpu === null ? null : Number((pgCpu / done).toFixed(2)),
    };
  } finally {
    await server.stop();
    await cleanup();
  }
}

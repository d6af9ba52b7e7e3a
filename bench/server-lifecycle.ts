import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { newApiKey } from '../packages/server/src/ids.ts';
import { apiClient, makeAccount } from '../packages/server/test/support/api.ts';
import { postgresTree } from './embedded-start.ts';
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
  /** CPU time of the cluster's PostgreSQL processes per lifecycle. */
  postgresCpuMsPerLifecycle: number;
}

/** CPU milliseconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuMs(pid: number, withReapedChildren = false): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const children = withReapedChildren ? Number(fields[13]) + Number(fields[14]) : 0;
    return ((Number(fields[11]) + Number(fields[12]) + children) * 1000) / 100;
  } catch {
    return 0;
  }
}

/**
 * CPU milliseconds of the PostgreSQL cluster on `pgdata`: its postmaster (with the children it reaped) and its
 * live backends, so that the other cluster on the machine is not counted.
 */
function postgresCpuMs(pgdata: string): number {
  const tree = postgresTree(pgdata);
  let total = 0;
  for (const pid of tree) total += cpuMs(pid, pid === tree[0]);
  return total;
}

/** The data dir of the system PostgreSQL on this machine (Debian's cluster layout). */
function systemPgdata(): string {
  for (const version of ['18', '17', '16', '15', '14']) {
    const dir = `/var/lib/postgresql/${version}/main`;
    if (postgresTree(dir).length > 0) return dir;
  }
  return '';
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

/**
 * Full task lifecycles (claim → PATCH running → PATCH completed) through HTTP against a buildd-server in
 * its own process, with `claimers` concurrent claimers; the server's database is fresh for each run.
 */
export async function benchLifecycles(
  engine: 'embedded' | 'postgres',
  tasks = 3000,
  claimers = 32,
): Promise<LifecycleFigures> {
  const adminKey = newApiKey('user');
  let env: Record<string, string>;
  let pgdata: string;
  let cleanup: () => Promise<void>;
  if (engine === 'postgres') {
    const c = new pg.Client({ connectionString: postgresAdminUrl });
    await c.connect();
    await c.query('DROP DATABASE IF EXISTS buildd_bench');
    await c.query('CREATE DATABASE buildd_bench');
    await c.end();
    env = { DATABASE_URL: postgresAdminUrl.replace(/\/[^/]*$/, '/buildd_bench') };
    pgdata = process.env.BENCH_POSTGRES_PGDATA ?? systemPgdata();
    cleanup = async () => {
      const d = new pg.Client({ connectionString: postgresAdminUrl });
      await d.connect();
      await d.query('DROP DATABASE IF EXISTS buildd_bench WITH (FORCE)');
      await d.end();
    };
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'buildd-bench-'));
    await chmod(dir, 0o755); // as root, PostgreSQL runs as `postgres`, which must pass through
    env = { BUILDD_DATA_DIR: join(dir, 'data') };
    pgdata = join(dir, 'data', 'pgdata');
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
    const pgBefore = postgresCpuMs(pgdata);
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
    const pgCpu = postgresCpuMs(pgdata) - pgBefore;
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
      postgresCpuMsPerLifecycle: Number((pgCpu / done).toFixed(2)),
    };
  } finally {
    await server.stop();
    await cleanup();
  }
}

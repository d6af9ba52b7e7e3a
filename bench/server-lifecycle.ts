import { appendFileSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../packages/server/src/db/embedded/cluster.ts';
import {
  connectionUrl,
  embeddedLayout,
  readMarker,
  runningEndpoint,
} from '../packages/server/src/db/embedded/layout.ts';
import { newApiKey } from '../packages/server/src/ids.ts';
import { type ApiClient, apiClient, makeAccount } from '../packages/server/test/support/api.ts';
import { postgresTree } from './embedded-start.ts';
import { leanClient } from './http-client.ts';
import { cpuMs, cpuTimes } from './proc.ts';
import { spawnServer } from './spawn-server.ts';
import { type CeilingFigures, measureSqlCeiling, walPosition } from './sql-ceiling.ts';
import { readStatements, resetStatements, type StatementFigures } from './statements.ts';

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
  /** The system (kernel) part of it: socket writes and reads, on loopback also the receiver's side of TCP. */
  serverSysMsPerLifecycle: number;
  /** CPU time of the cluster's PostgreSQL processes per lifecycle. */
  postgresCpuMsPerLifecycle: number;
  /** CPU time of the bench's own HTTP clients per lifecycle. */
  clientCpuMsPerLifecycle: number;
  /** WAL bytes written per lifecycle. */
  walBytesPerLifecycle: number;
  /** The minimal SQL lifecycle on the same server and database, measured before and after buildd's run. */
  ceiling: CeilingFigures[];
  /** buildd's lifecycles/s over the mean of the two ceiling runs. */
  ratio: number;
  /** 1-minute load average when the run began and when it ended. */
  load: [number, number];
  /** pg_stat_statements per lifecycle, when BENCH_STATEMENTS=1 (the embedded engine only). */
  statements?: StatementFigures[];
}

export interface IngestionFigures {
  workers: number;
  batch: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  appendP50Ms: number;
  appendP99Ms: number;
  serverCpuMsPerThousandEvents: number;
  postgresCpuMsPerThousandEvents: number;
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

const loadAverage = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

export interface BenchServer {
  url: string;
  admin: ApiClient;
  /** The server's own database, for the SQL ceiling and pg_stat_statements. */
  databaseUrl: string;
  serverPid: number;
  pgdata: string;
  stop(): Promise<void>;
}

/**
 * A buildd-server in its own process on a fresh database: a new database on the system PostgreSQL, or a new
 * embedded data dir. With `statements`, the embedded cluster loads pg_stat_statements (the system
 * PostgreSQL would need a restart for it, which the bench does not do to a shared server).
 */
export async function startBenchServer(
  engine: 'embedded' | 'postgres',
  statements: boolean,
): Promise<BenchServer> {
  const adminKey = newApiKey('user');
  let env: Record<string, string>;
  let pgdata: string;
  let cleanup: () => Promise<void>;
  let dataDir = '';
  if (engine === 'postgres') {
    const c = new pg.Client({ connectionString: postgresAdminUrl });
    await c.connect();
    await c.query('DROP DATABASE IF EXISTS buildd_bench WITH (FORCE)');
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
    dataDir = join(dir, 'data');
    env = { BUILDD_DATA_DIR: dataDir };
    pgdata = join(dataDir, 'pgdata');
    cleanup = () => rm(dir, { recursive: true, force: true });
    if (statements) {
      // Create the cluster first, then load the extension from postgresql.conf (buildd.conf is rewritten at
      // every start; postgresql.conf is the operator's).
      await (await startEmbeddedPostgres({ dataDir })).stop();
      appendFileSync(
        join(pgdata, 'postgresql.conf'),
        "\nshared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = 'all'\n",
      );
    }
  }
  const server = await spawnServer({
    ...env,
    BUILDD_ADMIN_KEY: adminKey,
    BUILDD_CONFIG_DIR: join(tmpdir(), 'buildd-bench-cfg'),
  });
  let databaseUrl = env.DATABASE_URL ?? '';
  if (engine === 'embedded') {
    const layout = embeddedLayout(dataDir);
    const marker = await readMarker(layout);
    const endpoint = await runningEndpoint(layout);
    if (!marker || !endpoint) throw new Error(`no running embedded PostgreSQL in ${dataDir}`);
    databaseUrl = connectionUrl(marker, endpoint);
  }
  return {
    url: server.url,
    admin: apiClient(server.url, adminKey),
    databaseUrl,
    serverPid: server.child.pid ?? 0,
    pgdata,
    async stop() {
      await server.stop();
      await cleanup();
    },
  };
}

async function walOf(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await walPosition(c);
  } finally {
    await c.end();
  }
}

/** `count` tasks in a new workspace, created through the API 100 at a time. */
export async function createTasks(admin: ApiClient, count: number, name: string): Promise<string> {
  const ws = await admin.post('/api/workspaces', { name });
  for (let start = 0; start < count; start += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - start) }, (_, i) =>
        admin.post('/api/tasks', { workspaceId: ws.body.id, title: `t${start + i}`, prompt: 'p' }),
      ),
    );
  }
  return ws.body.id as string;
}

/**
 * Full task lifecycles (claim → PATCH running → PATCH completed) through HTTP with `claimers` concurrent
 * claimers, between two runs of the SQL ceiling on the same database server; then, on the same server,
 * the event ingestion bench. The server's database is fresh for each engine.
 */
export async function benchServer(
  engine: 'embedded' | 'postgres',
  tasks = 3000,
  claimers = 32,
): Promise<{ lifecycles: LifecycleFigures; ingestion: IngestionFigures }> {
  const withStatements = process.env.BENCH_STATEMENTS === '1' && engine === 'embedded';
  const s = await startBenchServer(engine, withStatements);
  try {
    const load0 = loadAverage();
    await createTasks(s.admin, tasks, 'bench');
    const accounts = (
      await Promise.all(
        Array.from({ length: 4 }, () =>
          makeAccount(s.admin, s.url, { type: 'service', maxConcurrentWorkers: 100 }),
        ),
      )
    ).map((a) => ({ ...a, api: leanClient(s.url, a.key) }));
    const ceiling = [await measureSqlCeiling(s.databaseUrl, tasks, () => postgresCpuMs(s.pgdata), claimers)];
    if (withStatements) await resetStatements(s.databaseUrl);
    const latencies: number[] = [];
    let done = 0;
    const cpuBefore = cpuMs(s.serverPid);
    const sysBefore = cpuTimes(s.serverPid).sys;
    const pgBefore = postgresCpuMs(s.pgdata);
    const clientBefore = process.cpuUsage();
    const walBefore = await walOf(s.databaseUrl);
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
    const serverCpu = cpuMs(s.serverPid) - cpuBefore;
    const serverSys = cpuTimes(s.serverPid).sys - sysBefore;
    const pgCpu = postgresCpuMs(s.pgdata) - pgBefore;
    const client = process.cpuUsage(clientBefore);
    const wal = (await walOf(s.databaseUrl)) - walBefore;
    if (done !== tasks) throw new Error(`only ${done} of ${tasks} lifecycles completed`);
    const statements = withStatements ? await readStatements(s.databaseUrl, done) : undefined;
    ceiling.push(await measureSqlCeiling(s.databaseUrl, tasks, () => postgresCpuMs(s.pgdata), claimers));
    latencies.sort((a, b) => a - b);
    const lifecyclesPerSecond = Math.round(done / seconds);
    const meanCeiling = ceiling.reduce((sum, c) => sum + c.lifecyclesPerSecond, 0) / ceiling.length;
    const lifecycles: LifecycleFigures = {
      engine,
      tasks,
      claimers,
      seconds: Number(seconds.toFixed(2)),
      lifecyclesPerSecond,
      claimP50Ms: Number(pct(latencies, 50).toFixed(1)),
      claimP99Ms: Number(pct(latencies, 99).toFixed(1)),
      serverCpuMsPerLifecycle: Number((serverCpu / done).toFixed(2)),
      serverSysMsPerLifecycle: Number((serverSys / done).toFixed(2)),
      postgresCpuMsPerLifecycle: Number((pgCpu / done).toFixed(2)),
      clientCpuMsPerLifecycle: Number(((client.user + client.system) / 1000 / done).toFixed(2)),
      walBytesPerLifecycle: Math.round(wal / done),
      ceiling,
      ratio: Number((lifecyclesPerSecond / meanCeiling).toFixed(2)),
      load: [load0, loadAverage()],
      ...(statements ? { statements } : {}),
    };
    const ingestion = await benchIngestion(s, accounts[0]!.api);
    for (const a of accounts) a.api.close();
    return { lifecycles, ingestion };
  } finally {
    await s.stop();
  }
}

/**
 * Event ingestion: `workers` live workers each post `batches` batches of `batch` events, one after another,
 * all workers at once. 100 × 20 × 50 stays within each worker's burst allowance (2,000 events; the
 * sustained rate per worker is capped at 100 events/s on purpose), so this measures the server and the
 * database, not the rate limit.
 */
async function benchIngestion(
  s: BenchServer,
  api: ReturnType<typeof leanClient>,
  workers = 100,
  batches = 20,
  batch = 50,
): Promise<IngestionFigures> {
  await createTasks(s.admin, workers, 'ingest');
  const ids: string[] = [];
  while (ids.length < workers) {
    const res = await api.post('/api/workers/claim', {
      maxTasks: Math.min(100, workers - ids.length),
      authType: 'api',
      agentId: 'ingest',
    });
    const claimed = (res.body?.workers ?? []) as Array<{ id: string }>;
    if (claimed.length === 0) throw new Error(`ingestion: claim failed: ${res.status}`);
    ids.push(...claimed.map((w) => w.id));
  }
  const data = { text: 'x'.repeat(200), tool: 'Read', input: { path: 'src/index.ts' } };
  const latencies: number[] = [];
  const cpuBefore = cpuMs(s.serverPid);
  const pgBefore = postgresCpuMs(s.pgdata);
  const began = performance.now();
  await Promise.all(
    ids.map(async (id) => {
      for (let b = 0; b < batches; b++) {
        const at = new Date().toISOString();
        const events = Array.from({ length: batch }, (_, i) => ({
          seq: b * batch + i,
          type: 'tool_use',
          at,
          data,
        }));
        const t0 = performance.now();
        const res = await api.post(`/api/workers/${id}/events`, { events });
        latencies.push(performance.now() - t0);
        if (res.status !== 200 || res.body.stored !== batch) {
          throw new Error(`ingestion: batch refused: ${res.status} ${JSON.stringify(res.body)}`);
        }
      }
    }),
  );
  const seconds = (performance.now() - began) / 1000;
  const events = workers * batches * batch;
  latencies.sort((a, b) => a - b);
  return {
    workers,
    batch,
    events,
    seconds: Number(seconds.toFixed(2)),
    eventsPerSecond: Math.round(events / seconds),
    appendP50Ms: Number(pct(latencies, 50).toFixed(1)),
    appendP99Ms: Number(pct(latencies, 99).toFixed(1)),
    serverCpuMsPerThousandEvents: Number((((cpuMs(s.serverPid) - cpuBefore) / events) * 1000).toFixed(1)),
    postgresCpuMsPerThousandEvents: Number(
      (((postgresCpuMs(s.pgdata) - pgBefore) / events) * 1000).toFixed(1),
    ),
  };
}

import pg from 'pg';

/**
 * The SQL ceiling: the same three steps as a buildd lifecycle as the least SQL that does them, sent by a Node
 * client (`pg`, prepared statements, one connection per client) to the same PostgreSQL server and database:
 * a claim that locks the best pending task with FOR UPDATE SKIP LOCKED, marks it assigned and inserts its
 * worker; the worker and the task set running; then both completed. Each step is one autocommitted
 * statement, one commit, as each of buildd's three requests commits once. The tables live in a schema of
 * their own and are dropped afterwards. A Node client rather than pgbench, because the embedded PostgreSQL
 * ships no pgbench and the HTTP clients of the bench run in Node too.
 */
const setup = `
DROP SCHEMA IF EXISTS bench_ceiling CASCADE;
CREATE SCHEMA bench_ceiling;
CREATE TABLE bench_ceiling.tasks (
  id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'pending', priority integer NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON bench_ceiling.tasks (priority DESC, id) WHERE status = 'pending';
CREATE TABLE bench_ceiling.workers (
  id bigserial PRIMARY KEY, task_id bigint NOT NULL REFERENCES bench_ceiling.tasks, status text NOT NULL,
  lease_expires_at timestamptz NOT NULL, finished_at timestamptz);
CREATE INDEX ON bench_ceiling.workers (task_id);`;

const claim = `
WITH c AS (SELECT id FROM bench_ceiling.tasks WHERE status = 'pending' ORDER BY priority DESC, id
            LIMIT 1 FOR UPDATE SKIP LOCKED),
     t AS (UPDATE bench_ceiling.tasks s SET status = 'assigned', attempts = s.attempts + 1, updated_at = now()
             FROM c WHERE s.id = c.id RETURNING s.id)
INSERT INTO bench_ceiling.workers (task_id, status, lease_expires_at)
SELECT id, 'claimed', now() + make_interval(secs => $1) FROM t RETURNING id, task_id`;

const advance = `
WITH w AS (UPDATE bench_ceiling.workers SET status = $2,
             finished_at = CASE WHEN $2 = 'completed' THEN now() END,
             lease_expires_at = now() + interval '60 seconds'
            WHERE id = $1 RETURNING task_id)
UPDATE bench_ceiling.tasks s SET status = $2, updated_at = now() FROM w WHERE s.id = w.task_id`;

export interface CeilingFigures {
  lifecyclesPerSecond: number;
  claimP50Ms: number;
  claimP99Ms: number;
  /** CPU milliseconds per lifecycle: PostgreSQL's processes, and this client process. */
  postgresCpuMs: number;
  clientCpuMs: number;
  /** WAL bytes written per lifecycle. */
  walBytes: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

/** Runs `tasks` minimal lifecycles with `clients` concurrent connections on the database at `url`. */
export async function measureSqlCeiling(
  url: string,
  tasks: number,
  postgresCpuMs: () => number,
  clients = 32,
): Promise<CeilingFigures> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(setup);
    await admin.query(
      'INSERT INTO bench_ceiling.tasks (id, priority) SELECT i, i % 3 FROM generate_series(1, $1) i',
      [tasks],
    );
    await admin.query('ANALYZE bench_ceiling.tasks');
    const conns = await Promise.all(
      Array.from({ length: clients }, async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    );
    const latencies: number[] = [];
    let done = 0;
    const wal0 = await walPosition(admin);
    const pg0 = postgresCpuMs();
    const client0 = process.cpuUsage();
    const began = performance.now();
    try {
      await Promise.all(
        conns.map(async (c) => {
          for (;;) {
            const t0 = performance.now();
            const res = await c.query({ name: 'claim', text: claim, values: [60] });
            latencies.push(performance.now() - t0);
            const w = res.rows[0] as { id: string } | undefined;
            if (!w) break;
            await c.query({ name: 'advance', text: advance, values: [w.id, 'running'] });
            await c.query({ name: 'advance', text: advance, values: [w.id, 'completed'] });
            done++;
          }
        }),
      );
    } finally {
      await Promise.all(conns.map((c) => c.end()));
    }
    const seconds = (performance.now() - began) / 1000;
    const client = process.cpuUsage(client0);
    const pgCpu = postgresCpuMs() - pg0;
    const wal = (await walPosition(admin)) - wal0;
    if (done !== tasks) throw new Error(`SQL ceiling: only ${done} of ${tasks} lifecycles completed`);
    latencies.sort((a, b) => a - b);
    return {
      lifecyclesPerSecond: Math.round(done / seconds),
      claimP50Ms: Number(pct(latencies, 50).toFixed(1)),
      claimP99Ms: Number(pct(latencies, 99).toFixed(1)),
      postgresCpuMs: Number((pgCpu / done).toFixed(2)),
      clientCpuMs: Number(((client.user + client.system) / 1000 / done).toFixed(2)),
      walBytes: Math.round(wal / done),
    };
  } finally {
    await admin.query('DROP SCHEMA IF EXISTS bench_ceiling CASCADE').catch(() => {});
    await admin.end();
  }
}

/** The server's WAL insert position, in bytes. */
export async function walPosition(c: pg.Client): Promise<number> {
  const { rows } = await c.query<{ lsn: string }>(
    "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::text AS lsn",
  );
  return Number(rows[0]!.lsn);
}

import { Hono } from 'hono';
import { loadMigrations } from '../../db/migrate.ts';
import { readSchemaVersion } from '../../store/health.ts';
import type { AppEnv } from '../context.ts';

const checkTimeoutMs = 2000;

/** Resolves `work`, or rejects once `ms` have passed: a hung database must not hang the probe too. */
function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the database within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * `/healthz`: the process is alive and serving (a liveness probe; it does not touch the database).
 * `/readyz`: whether this replica should get traffic. 200 when the database answers and its schema is
 * exactly the one this code knows; 503 with the failing check otherwise (a load balancer takes the
 * replica out; `/healthz` still says the process is alive, so nothing restarts it for a database outage).
 */
export function healthRoutes() {
  const r = new Hono<AppEnv>();

  r.get('/healthz', (c) => c.json({ ok: true, engine: c.var.deps.db.engine }));

  let known: Promise<number> | undefined;

  r.get('/readyz', async (c) => {
    known ??= loadMigrations().then((all) => all.at(-1)?.version ?? 0);
    const expected = await known;
    let current: number;
    try {
      current = await within(checkTimeoutMs, readSchemaVersion(c.var.deps.db));
    } catch (err) {
      return c.json(
        { ready: false, database: { ok: false, error: (err as Error).message }, migrations: { expected } },
        503,
      );
    }
    const migrations = {
      ok: current === expected,
      current,
      expected,
      ...(current < expected ? { error: 'migrations are pending: restart buildd-server to apply them' } : {}),
      ...(current > expected ? { error: 'the database was migrated by a newer buildd-server' } : {}),
    };
    return c.json({ ready: migrations.ok, database: { ok: true }, migrations }, migrations.ok ? 200 : 503);
  });

  return r;
}

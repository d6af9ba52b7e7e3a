import pg from 'pg';
import { inject } from 'vitest';
import { openPostgres } from '../../src/db/postgres.ts';
import type { Db } from '../../src/db/types.ts';
import { randomBase62 } from '../../src/ids.ts';
import { postgresUrl } from './engines-reachable.ts';

/** The two engines every server test runs on: buildd's own PostgreSQL (18) and the system one (15). */
export type Engine = 'embedded' | 'postgres';

export { hasPostgres, postgresUrl } from './engines-reachable.ts';

/** The engines this run covers: the embedded one always, the system PostgreSQL when reachable (always in CI). */
export async function testEngines(): Promise<Engine[]> {
  return inject('engines') as Engine[];
}

/** A URL for `database` on an engine's cluster, as the superuser (the suite's global set-up made them). */
export function clusterUrl(engine: Engine, database: string): string {
  const url = new URL(engine === 'embedded' ? inject('embeddedUrl') : postgresUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(engine: Engine, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: clusterUrl(engine, 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Databases this test file made, per engine; a closed one is emptied and handed to the next test. */
const made: Record<Engine, string[]> = { embedded: [], postgres: [] };
const free: Record<Engine, string[]> = { embedded: [], postgres: [] };

/** Empties every table but the migration record (much faster than a new database: no checkpoint). */
async function emptyDatabase(engine: Engine, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: clusterUrl(engine, database) });
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(
      `SELECT quote_ident(tablename) AS name FROM pg_tables
        WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`,
    );
    if (tables.rows.length > 0) {
      await client.query(`TRUNCATE ${tables.rows.map((t) => t.name).join(', ')} RESTART IDENTITY CASCADE`);
    }
  } finally {
    await client.end();
  }
}

/**
 * A fresh, migrated, empty database for one test: a copy of the suite's template database (migrated once in
 * the global set-up), or one this file used before and emptied. `url` reaches it as the superuser.
 */
export async function freshDb(engine: Engine): Promise<Db & { url: string }> {
  let database = free[engine].pop();
  if (database) {
    await emptyDatabase(engine, database);
  } else {
    database = `${inject('runId')}_${randomBase62(8).toLowerCase()}`;
    const template = inject('template');
    await admin(engine, (c) => c.query(`CREATE DATABASE ${database} TEMPLATE ${template}`));
    made[engine].push(database);
  }
  const url = clusterUrl(engine, database);
  const db = openPostgres({
    connectionString: url,
    engine,
    maxConnections: Number(process.env.TEST_PG_POOL ?? 10),
  });
  let released = false;
  const close = db.close;
  return Object.assign(db, {
    url,
    async close() {
      await close();
      if (!released) {
        released = true;
        free[engine].push(database);
      }
    },
  });
}

/** Drops every database this test file made (the set-up file calls it after the file's tests). */
export async function dropFileDatabases(): Promise<void> {
  for (const engine of ['embedded', 'postgres'] as const) {
    for (const database of made[engine].splice(0)) {
      await admin(engine, (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    }
    free[engine].length = 0;
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    engines: string[];
    embeddedUrl: string;
    runId: string;
    template: string;
  }
}

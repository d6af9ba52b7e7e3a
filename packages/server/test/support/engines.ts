import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { wrapPglite } from '../../src/db/pglite.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import type { Db } from '../../src/db/types.ts';
import { randomBase62 } from '../../src/ids.ts';

export type Engine = 'pglite' | 'postgres';

export const postgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let postgresReachable: Promise<boolean> | undefined;

/** Whether the PostgreSQL leg can run. In CI (BUILDD_REQUIRE_POSTGRES=1) a missing server is an error. */
export function hasPostgres(): Promise<boolean> {
  postgresReachable ??= (async () => {
    const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch (err) {
      if (process.env.BUILDD_REQUIRE_POSTGRES === '1') {
        throw new Error(
          `PostgreSQL is required (BUILDD_REQUIRE_POSTGRES=1) but ${postgresUrl} is unreachable: ${(err as Error).message}`,
        );
      }
      console.warn(
        `NOTICE: PostgreSQL at ${postgresUrl} is unreachable; the PostgreSQL leg of the tests is skipped.`,
      );
      return false;
    }
  })();
  return postgresReachable;
}

/** The engines this run covers: PGlite always, PostgreSQL when reachable (always in CI). */
export async function testEngines(): Promise<Engine[]> {
  return (await hasPostgres()) ? ['pglite', 'postgres'] : ['pglite'];
}

let sharedPglite: Promise<PGlite> | undefined;

/**
 * A fresh, empty database for one test: its own schema on PostgreSQL, or its own schema in the one
 * in-memory PGlite this test file shares (a new PGlite costs seconds to start).
 */
export async function freshDb(engine: Engine): Promise<Db & { dropSchema(): Promise<void> }> {
  const schema = `t_${randomBase62(12).toLowerCase()}`;
  if (engine === 'postgres') {
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const db = openPostgres({
      connectionString: postgresUrl,
      schema,
      maxConnections: Number(process.env.TEST_PG_POOL ?? 10),
    });
    return Object.assign(db, {
      async dropSchema() {
        const c = new pg.Client({ connectionString: postgresUrl });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      },
    });
  }
  sharedPglite ??= PGlite.create(undefined, { parsers: { 20: (v: string) => Number(v) } });
  const instance = await sharedPglite;
  await instance.exec(`CREATE SCHEMA ${schema}`);
  const db = await wrapPglite(instance, schema, false);
  return Object.assign(db, {
    async dropSchema() {
      await instance.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; SET search_path TO public`);
    },
  });
}

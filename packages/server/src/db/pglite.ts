import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable } from './types.ts';

const parsers = { 20: (value: string) => Number(value) };

/** Opens (or creates) an embedded database in `dataDir`; `undefined` keeps it in memory. */
export async function openPglite(dataDir: string | undefined, schema?: string): Promise<Db> {
  // PGlite creates only the last folder of the path; on a fresh machine ~/.buildd does not exist yet.
  if (dataDir) await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pg = await PGlite.create(dataDir, { parsers });
  return wrapPglite(pg, schema, true);
}

/**
 * Wraps an open PGlite instance. Tests share one instance per file and give each test its own schema,
 * so `schema` is set on the single connection first.
 */
export async function wrapPglite(pg: PGlite, schema: string | undefined, owned: boolean): Promise<Db> {
  if (schema) await pg.exec(`SET search_path TO "${schema}"`);
  return {
    engine: 'pglite',
    async query<T>(sql: string, params?: readonly unknown[]) {
      const result = await pg.query<T>(sql, params as unknown[]);
      return result.rows;
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>) {
      return pg.transaction(async (tx) =>
        fn({
          async query<R>(sql: string, params?: readonly unknown[]) {
            return (await tx.query<R>(sql, params as unknown[])).rows;
          },
          async exec(sql: string) {
            await tx.exec(sql);
          },
        }),
      );
    },
    async exec(sql: string) {
      await pg.exec(sql);
    },
    async listen(channel: string, onMessage: (payload: string) => void) {
      const stop = await pg.listen(channel, onMessage);
      return async () => stop();
    },
    async close() {
      if (owned) await pg.close();
    },
  };
}

import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import type { Db } from './types.ts';

export { migrate, SchemaTooNewError } from './migrate.ts';
export type { Db, Queryable } from './types.ts';

/** Opens PostgreSQL when a URL is given, the embedded PGlite in `dataDir` otherwise. */
export async function openDb(opts: {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  onError?: (err: Error) => void;
}): Promise<Db> {
  if (opts.databaseUrl) return openPostgres({ connectionString: opts.databaseUrl, onError: opts.onError });
  return openPglite(opts.dataDir);
}

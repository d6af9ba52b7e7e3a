import { type EmbeddedCluster, startEmbeddedPostgres } from './embedded/cluster.ts';
import { openPostgres } from './postgres.ts';
import type { Db } from './types.ts';

export { EmbeddedError, pgliteEraDataDir } from './embedded/cluster.ts';
export { migrate, SchemaTooNewError } from './migrate.ts';
export type { Db, Queryable } from './types.ts';

/**
 * Opens the PostgreSQL at `databaseUrl`, or, without one, starts buildd's own PostgreSQL in `dataDir`
 * (stopped again by `close()`).
 */
export async function openDb(opts: {
  databaseUrl?: string | undefined;
  dataDir: string;
  maxConnections?: number;
  onError?: (err: Error) => void;
  onPostgresLog?: (message: string) => void;
}): Promise<Db & { cluster?: EmbeddedCluster }> {
  if (opts.databaseUrl) {
    return openPostgres({
      connectionString: opts.databaseUrl,
      maxConnections: opts.maxConnections,
      onError: opts.onError,
    });
  }
  const cluster = await startEmbeddedPostgres({ dataDir: opts.dataDir, log: opts.onPostgresLog });
  const db = openPostgres({
    connectionString: cluster.url(),
    engine: 'embedded',
    maxConnections: opts.maxConnections,
    onError: opts.onError,
  });
  return {
    ...db,
    cluster,
    async close() {
      await db.close();
      await cluster.stop();
    },
  };
}

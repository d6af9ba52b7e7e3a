/**
 * A PostgreSQL database of its own for one fault test, so that killing its connections
 * (pg_terminate_backend) or a server process on it touches nothing else running on the same cluster.
 */
import pg from 'pg';
import { postgresUrl } from '../../../../server/test/support/engines.ts';

/** A throw-away database. */
export interface ScratchDatabase {
  name: string;
  /** A connection URL for the database (same host and user as the test cluster). */
  url: string;
  /** Terminates every connection to the database except ours; returns how many were terminated. */
  terminateConnections(): Promise<number>;
  /** Runs one query on the database (a fresh connection, so it never is one of the terminated). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Creates a database with a random name on the test cluster. */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const name = `buildd_fault_${Math.random().toString(36).slice(2, 10)}`;
  await withClient(postgresUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async terminateConnections() {
      const rows = await withClient(postgresUrl, (c) =>
        c.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid()`,
          [name],
        ),
      );
      return rows.rows.filter((r) => r.ok).length;
    },
    query: (sql, params) => withClient(url.toString(), async (c) => (await c.query(sql, params)).rows),
    async drop() {
      await withClient(postgresUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

import pg from 'pg';
import type { Db, Queryable } from './types.ts';

// bigint columns (token counts, sequence numbers) fit comfortably in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface PostgresOptions {
  connectionString: string;
  /** Puts every connection on this schema (tests isolate themselves this way). */
  schema?: string;
  maxConnections?: number;
  onError?: (err: Error) => void;
  /** How /healthz and the logs name it: buildd's own PostgreSQL, or one given by DATABASE_URL. */
  engine?: Db['engine'];
}

const statementNames = new Map<string, string>();

/**
 * A query config that names statements with parameters, so that each connection parses and plans them
 * once and reuses the plan: planning the claim and PATCH statements costs more than running them.
 */
function prepared(sql: string, params: readonly unknown[] | undefined): pg.QueryConfig {
  if (!params || params.length === 0) return { text: sql };
  let name = statementNames.get(sql);
  if (!name) {
    name = `buildd_${statementNames.size}`;
    statementNames.set(sql, name);
  }
  return { name, text: sql, values: params as unknown[] };
}

/** Opens a pool on a PostgreSQL server. */
export function openPostgres(options: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 20,
    connectionTimeoutMillis: 10_000,
    options: options.schema ? `-c search_path=${options.schema}` : undefined,
  });
  // A connection that dies while idle (server restart, pg_terminate_backend) must not crash the process:
  // the pool drops it and the next query opens a fresh one.
  pool.on('error', (err) => options.onError?.(err));
  const listeners = new Set<pg.Client>();

  return {
    engine: options.engine ?? 'postgres',
    async query<T>(sql: string, params?: readonly unknown[]) {
      const result = await pool.query(prepared(sql, params));
      return result.rows as T[];
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>) {
      // The pool listens for errors only on idle clients: a connection dropped while this one is checked out
      // (pg_terminate_backend, a failover) would be an unhandled 'error' that ends the process. The listener
      // goes on in the connect callback, synchronously: the error may come in the same packet as the
      // connection's ReadyForQuery, before an `await pool.connect()` would resume.
      let dropped: Error | undefined;
      const onError = (err: Error) => {
        dropped ??= err;
        options.onError?.(err);
      };
      const client = await new Promise<pg.PoolClient>((resolve, reject) =>
        pool.connect((err, connected) => {
          if (err || !connected) return reject(err ?? new Error('no connection from the pool'));
          connected.on('error', onError);
          resolve(connected);
        }),
      );
      let broken = false;
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          async query<R>(sql: string, params?: readonly unknown[]) {
            return (await client.query(prepared(sql, params))).rows as R[];
          },
          async exec(sql: string) {
            await client.query(sql);
          },
        };
        const value = await fn(tx);
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        // A dead connection fails later queries with "not queryable"; report the cause, a transient error.
        throw dropped ?? err;
      } finally {
        client.removeListener('error', onError);
        client.release(broken || dropped !== undefined);
      }
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async listen(channel: string, onMessage: (payload: string) => void) {
      return listenWithReconnect(options, channel, onMessage, listeners);
    },
    async close() {
      for (const client of listeners) await client.end().catch(() => {});
      listeners.clear();
      await pool.end();
    },
  };
}

/** One dedicated connection per channel that comes back by itself after the connection drops. */
async function listenWithReconnect(
  options: PostgresOptions,
  channel: string,
  onMessage: (payload: string) => void,
  registry: Set<pg.Client>,
): Promise<() => Promise<void>> {
  let stopped = false;
  let current: pg.Client | undefined;
  const connect = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: options.connectionString });
    client.on('notification', (msg) => {
      if (msg.channel === channel) onMessage(msg.payload ?? '');
    });
    client.on('error', (err) => {
      options.onError?.(err);
      registry.delete(client);
      client.end().catch(() => {});
      if (!stopped) setTimeout(() => void connect().catch(retry), 500).unref();
    });
    await client.connect();
    await client.query(`LISTEN "${channel.replaceAll('"', '')}"`);
    current = client;
    registry.add(client);
  };
  const retry = (err: Error) => {
    options.onError?.(err);
    if (!stopped) setTimeout(() => void connect().catch(retry), 1000).unref();
  };
  await connect();
  return async () => {
    stopped = true;
    if (current) {
      registry.delete(current);
      await current.end().catch(() => {});
    }
  };
}

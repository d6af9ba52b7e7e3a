import { pino } from 'pino';
import { ensureAdmin } from '../../src/bootstrap.ts';
import type { Db } from '../../src/db/types.ts';
import { newApiKey } from '../../src/ids.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { type Engine, freshDb } from './engines.ts';
import { track, untrack } from './leaks.ts';

export interface TestServer {
  engine: Engine;
  url: string;
  adminKey: string;
  db: Db;
  server: RunningServer;
  /** Runs one reaper round now. */
  reap: RunningServer['reap'];
  close(): Promise<void>;
}

/**
 * A real buildd server on 127.0.0.1, port 0, over a fresh database (see freshDb), with an admin account.
 */
export async function startTestServer(
  opts: {
    engine?: Engine;
    leaseSeconds?: number;
    renewSeconds?: number;
    reapIntervalSeconds?: number;
    db?: Db;
  } = {},
): Promise<TestServer> {
  const engine = opts.engine ?? 'embedded';
  const db = opts.db ?? (await freshDb(engine));
  const leaseSeconds = opts.leaseSeconds ?? 60;
  const server = await startServer({
    db,
    log: pino({ level: process.env.BUILDD_TEST_LOG ?? 'silent' }),
    host: '127.0.0.1',
    port: 0,
    leaseSeconds,
    renewSeconds: opts.renewSeconds ?? Math.max(1, Math.floor(leaseSeconds / 4)),
    reapIntervalSeconds: opts.reapIntervalSeconds ?? 3600,
  });
  const adminKey = newApiKey('user');
  await ensureAdmin(db, adminKey);
  let closed = false;
  const handle: TestServer = {
    engine,
    url: server.url,
    adminKey,
    db,
    server,
    reap: server.reap,
    async close() {
      if (closed) return;
      closed = true;
      untrack(handle);
      await server.close();
      if (!opts.db) await db.close();
    },
  };
  track(handle, `a test server on ${server.url}`, handle.close);
  return handle;
}

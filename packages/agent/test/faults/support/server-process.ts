/**
 * `buildd-server` as its own process for fault tests, on its embedded PostgreSQL (a data dir) or on a PostgreSQL
 * database of its own, that can be killed and started again on the same port and the same data.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SpawnedServer, spawnServer } from '../../../../../bench/spawn-server.ts';
import type { Engine } from '../../../../server/test/support/engines.ts';
import { postgresProcessesIn } from '../../../../server/test/support/leaks.ts';
import { createScratchDatabase, type ScratchDatabase } from './postgres-db.ts';

/** A server process and the data it keeps between its lives. */
export interface ServerProcess {
  engine: Engine;
  url: string;
  adminKey: string;
  /** The PostgreSQL database, on that engine. */
  database: ScratchDatabase | undefined;
  current(): SpawnedServer | undefined;
  /** SIGKILL: no shutdown of any kind. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data; resolves once /healthz answers. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
}

const open = new Set<ServerProcess>();

/**
 * Starts a server process; `flags` are added to its command line (lease, reaper…); `host` binds another
 * address than 127.0.0.1.
 */
export async function startServerProcess(
  engine: Engine,
  flags: string[] = [],
  opts: { host?: string } = {},
): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'buildd-fault-server-'));
  chmodSync(dir, 0o755); // as root, the embedded PostgreSQL runs as `postgres`, which must pass through it
  const database = engine === 'postgres' ? await createScratchDatabase() : undefined;
  const adminKey = `buildd_user_${randomBytes(32).toString('base64url')}`;
  const env: Record<string, string> = {
    BUILDD_ADMIN_KEY: adminKey,
    // Nothing may be written to the real ~/.buildd of this machine.
    BUILDD_CONFIG_DIR: join(dir, 'config'),
    LOG_LEVEL: process.env.BUILDD_TEST_LOG ?? 'error',
    ...(database ? { DATABASE_URL: database.url } : { BUILDD_DATA_DIR: join(dir, 'data') }),
  };
  let server: SpawnedServer | undefined;
  let port: number | undefined;
  const handle: ServerProcess = {
    engine,
    url: '',
    adminKey,
    database,
    current: () => server,
    async kill() {
      await server?.stop('SIGKILL');
    },
    async start() {
      server = await spawnServer(env, flags, [], { ...opts, ...(port === undefined ? {} : { port }) });
      port = server.port;
      handle.url = server.url;
    },
    async close() {
      open.delete(handle);
      // SIGTERM: the server stops its embedded PostgreSQL. After a kill (SIGKILL) the postmaster it left is
      // orphaned: stop that one too, or it would outlive the test.
      await server?.stop('SIGTERM');
      await stopOrphanedPostgres(join(dir, 'data'));
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  open.add(handle);
  try {
    await handle.start();
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/** Stops a postmaster still running on `dataDir` (SIGINT: PostgreSQL's fast shutdown) and waits for it. */
async function stopOrphanedPostgres(dataDir: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const pids = postgresProcessesIn(dataDir);
    if (pids.length === 0) return;
    if (i % 50 === 0) {
      for (const pid of pids) {
        try {
          process.kill(pid, i === 0 ? 'SIGINT' : 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Closes every server process still open (for afterEach). */
export async function closeAllServers(): Promise<void> {
  for (const server of [...open]) await server.close();
}

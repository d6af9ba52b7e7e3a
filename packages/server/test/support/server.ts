import { type Logger, pino } from 'pino';
import { createApp } from '../../src/app.ts';
import { ensureAdmin } from '../../src/bootstrap.ts';
import { migrate } from '../../src/db/index.ts';
import type { Db } from '../../src/db/types.ts';
import { Bus } from '../../src/events/bus.ts';
import { type LiveSettings, startLive } from '../../src/events/live.ts';
import type { WebhookSettings } from '../../src/events/webhook-sender.ts';
import { GitHubAccess } from '../../src/github/access.ts';
import { newApiKey } from '../../src/ids.ts';
import { createMetrics } from '../../src/metrics/registry.ts';
import type { EventLimits } from '../../src/queue/event-limits.ts';
import { reapExpiredWorkers } from '../../src/queue/reap.ts';
import { SecretKeys } from '../../src/secrets/secret-keys.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { inProcessApps } from './api.ts';
import { type Engine, freshDb } from './engines.ts';
import { track, untrack } from './leaks.ts';

export interface TestServer {
  engine: Engine;
  url: string;
  adminKey: string;
  db: Db;
  /** The test database's URL, as the superuser (for a second connection of one's own). */
  dbUrl: string | undefined;
  /** The running server (not for an in-process one, which has no socket). */
  server: RunningServer;
  /** Runs one reaper round now. */
  reap: RunningServer['reap'];
  close(): Promise<void>;
}

export interface TestServerOptions {
  engine?: Engine;
  leaseSeconds?: number;
  legacyLeaseSeconds?: number;
  renewSeconds?: number;
  reapIntervalSeconds?: number;
  db?: Db;
  /** Streams' limits and the shared reader's poll. */
  live?: Partial<LiveSettings>;
  /** Webhook delivery settings (tests allow loopback targets unless they say otherwise). */
  webhooks?: Partial<WebhookSettings>;
  /** Serve `createApp` through `app.fetch` (test clients call it directly) instead of a socket. */
  inProcess?: boolean;
  artifactLimits?: { artifactBytes: number; taskBytes: number };
  /** Per-worker event caps (small ones make the limits quick to reach). */
  eventLimits?: Partial<EventLimits>;
  /** How often the agent channel pings its peers (one that misses a pong is dropped). */
  channelPingMs?: number;
  /** The key stored GitHub tokens are sealed with (a test that opens them passes its own; default ephemeral). */
  secretKeys?: SecretKeys;
}

let inProcessCount = 0;

/**
 * A real buildd server on 127.0.0.1, port 0 (or in-process), over a fresh database (see freshDb), with an
 * admin account.
 */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const engine = opts.engine ?? 'embedded';
  const fresh = opts.db ? undefined : await freshDb(engine);
  const db = opts.db ?? fresh!;
  const leaseSeconds = opts.leaseSeconds ?? 60;
  const settings = {
    db,
    log: pino({ level: process.env.BUILDD_TEST_LOG ?? 'silent' }) as Logger,
    leaseSeconds,
    legacyLeaseSeconds: opts.legacyLeaseSeconds,
    renewSeconds: opts.renewSeconds ?? Math.max(1, Math.floor(leaseSeconds / 4)),
    artifactLimits: opts.artifactLimits,
    live: opts.live,
    webhooks: { allowPrivate: true, ...opts.webhooks },
    eventLimits: opts.eventLimits,
  };
  const running = opts.inProcess
    ? await startInProcess(settings)
    : await startServer({
        ...settings,
        host: '127.0.0.1',
        port: 0,
        reapIntervalSeconds: opts.reapIntervalSeconds ?? 3600,
        channelPingMs: opts.channelPingMs,
        secretKeys: opts.secretKeys,
      });
  const adminKey = newApiKey('user');
  await ensureAdmin(db, adminKey);
  let closed = false;
  const handle: TestServer = {
    engine,
    url: running.url,
    adminKey,
    db,
    dbUrl: fresh?.url ?? (opts.db as { url?: string } | undefined)?.url,
    server: running as RunningServer,
    reap: running.reap,
    async close() {
      if (closed) return;
      closed = true;
      untrack(handle);
      await running.close();
      if (!opts.db) await db.close();
    },
  };
  track(handle, `a test server on ${running.url}`, handle.close);
  return handle;
}

/** The app without a socket: migrated database, bus, `createApp`; the reaper runs only when asked. */
async function startInProcess(s: {
  db: Db;
  log: Logger;
  leaseSeconds: number;
  legacyLeaseSeconds: number | undefined;
  renewSeconds: number;
  artifactLimits: TestServerOptions['artifactLimits'];
  live: Partial<LiveSettings> | undefined;
  eventLimits: Partial<EventLimits> | undefined;
}): Promise<Pick<RunningServer, 'url' | 'reap' | 'close'>> {
  await migrate(s.db);
  const bus = new Bus(s.db);
  await bus.start();
  const live = await startLive(s.db, bus, s.live);
  const app = createApp({
    db: s.db,
    bus,
    live,
    webhooks: { allowPrivate: true },
    log: s.log,
    leaseSeconds: s.leaseSeconds,
    legacyLeaseSeconds: s.legacyLeaseSeconds ?? 900,
    renewSeconds: s.renewSeconds,
    metrics: createMetrics(),
    // No pull request sender in-process: nothing here reaches GitHub (test/pull-requests.test.ts does).
    github: new GitHubAccess('http://127.0.0.1:9', undefined, SecretKeys.ephemeral()),
    agentOfflineSeconds: Math.max(60, s.leaseSeconds * 2),
    ...(s.artifactLimits ? { artifactLimits: s.artifactLimits } : {}),
    eventLimits: s.eventLimits,
  });
  const url = `http://in-process-${++inProcessCount}.test`;
  inProcessApps.set(url, (request) => app.fetch(request));
  return {
    url,
    async reap() {
      const result = await reapExpiredWorkers(s.db);
      if (result.requeued > 0) await bus.publish('buildd_tasks');
      return result;
    },
    async close() {
      inProcessApps.delete(url);
      await live.stop();
      await bus.stop();
    },
  };
}

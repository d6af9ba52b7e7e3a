import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './app.ts';
import type { Db } from './db/index.ts';
import { migrate } from './db/index.ts';
import { AgentChannel, agentChannelPath } from './events/agent-channel.ts';
import { Bus } from './events/bus.ts';
import { type LiveSettings, startLive } from './events/live.ts';
import { defaultWebhookSettings, WebhookSender, type WebhookSettings } from './events/webhook-sender.ts';
import { GitHubAccess } from './github/access.ts';
import type { GitHubSettings } from './github/client.ts';
import {
  defaultPullRequestSettings,
  PullRequestSender,
  type PullRequestSettings,
} from './github/pull-request-sender.ts';
import type { AppDeps } from './http/context.ts';
import { createMetrics } from './metrics/registry.ts';
import { extendLiveLeases } from './queue/extend-leases.ts';
import { pruneHintLeases } from './queue/hint-leases.ts';
import { markSilentAgentsOffline } from './queue/mark-agents-offline.ts';
import { reapExpiredWorkers } from './queue/reap.ts';
import { resealGithubTokens } from './secrets/reseal-github-tokens.ts';
import { SecretKeys } from './secrets/secret-keys.ts';
import { pruneChanges } from './store/changes.ts';

/** How long an idle keep-alive connection stays open on the server's side. */
export const keepAliveSeconds = 65;

/** How long the change log keeps a row: a feed client away for longer resumes from the oldest kept. */
export const changeRetentionSeconds = 7 * 24 * 3600;

export interface RunningServer {
  url: string;
  port: number;
  deps: AppDeps;
  /** Runs one reaper round now (tests use it instead of waiting for the timer). */
  reap(): Promise<{ lost: number; requeued: number; failed: number }>;
  /** The agents' push channel. */
  channel: AgentChannel;
  close(): Promise<void>;
}

export interface StartOptions {
  db: Db;
  log: Logger;
  host: string;
  port: number;
  leaseSeconds: number;
  /** The lease of workers claimed by older agents (no agentId); default 900 s. */
  legacyLeaseSeconds?: number;
  renewSeconds: number;
  reapIntervalSeconds: number;
  agentOfflineSeconds?: number;
  /** Streams' limits and the shared reader's poll (defaults in events/live.ts). */
  live?: Partial<LiveSettings>;
  /** Webhook delivery settings; private targets are allowed with BUILDD_WEBHOOK_ALLOW_PRIVATE=1. */
  webhooks?: Partial<WebhookSettings>;
  eventLimits?: AppDeps['eventLimits'];
  /** The server-wide GitHub token and API URL (BUILDD_GITHUB_TOKEN, BUILDD_GITHUB_API_URL). */
  github?: GitHubSettings | undefined;
  /** The GitHub API base URL when there is no server-wide token (default: github's, else https://api.github.com). */
  githubApiUrl?: string | undefined;
  /** The server's address as people reach it, for links in pull requests (default: the listening URL). */
  publicUrl?: string | undefined;
  /** The key that encrypts stored secrets; without one, a key that lives as long as this process (tests). */
  secretKeys?: SecretKeys;
  /** Pull request retry settings (github/pull-request-sender.ts). */
  pullRequests?: Partial<PullRequestSettings>;
  artifactLimits?: AppDeps['artifactLimits'];
  /** How often the agent channel pings (a peer that misses a pong is dropped); default 25 s. */
  channelPingMs?: number;
}

/** Migrates, starts the bus and the reaper, and listens. `close()` stops all of it (not the db). */
export async function startServer(opts: StartOptions): Promise<RunningServer> {
  await migrate(opts.db);
  await extendLiveLeases(opts.db, opts.leaseSeconds);
  const bus = new Bus(opts.db);
  await bus.start();
  const live = await startLive(opts.db, bus, opts.live, (err) =>
    opts.log.warn({ err: (err as Error).message }, 'reading changes failed; the next hint or poll retries'),
  );
  const webhooks: WebhookSettings = {
    ...defaultWebhookSettings,
    allowPrivate: process.env.BUILDD_WEBHOOK_ALLOW_PRIVATE === '1',
    ...opts.webhooks,
  };
  const webhookSender = new WebhookSender(opts.db, bus, webhooks, opts.log);
  const secretKeys = opts.secretKeys ?? SecretKeys.ephemeral();
  await resealGithubTokens(opts.db, secretKeys, opts.log);
  const github = new GitHubAccess(
    opts.githubApiUrl ?? opts.github?.apiUrl ?? 'https://api.github.com',
    opts.github?.token,
    secretKeys,
  );
  let url = '';
  const pullRequestSender = new PullRequestSender(
    opts.db,
    bus,
    github,
    { ...defaultPullRequestSettings, ...opts.pullRequests },
    () => opts.publicUrl ?? url,
    opts.log,
  );
  const deps: AppDeps = {
    db: opts.db,
    bus,
    live,
    webhooks,
    webhookSender,
    log: opts.log,
    leaseSeconds: opts.leaseSeconds,
    legacyLeaseSeconds: opts.legacyLeaseSeconds ?? 900,
    renewSeconds: opts.renewSeconds,
    agentOfflineSeconds: opts.agentOfflineSeconds ?? Math.max(60, opts.leaseSeconds * 2),
    eventLimits: opts.eventLimits,
    metrics: createMetrics(),
    github,
    ...(opts.artifactLimits ? { artifactLimits: opts.artifactLimits } : {}),
  };
  const app = createApp(deps);
  const reap = async () => {
    const result = await reapExpiredWorkers(opts.db);
    await markSilentAgentsOffline(opts.db, deps.agentOfflineSeconds);
    await pruneChanges(opts.db, changeRetentionSeconds);
    await pruneHintLeases(opts.db);
    if (result.lost > 0) opts.log.warn(result, 'reaped workers whose lease expired');
    if (result.requeued > 0) await bus.publish('buildd_tasks');
    return result;
  };
  const timer = setInterval(() => {
    reap().catch((err) => opts.log.warn({ err: (err as Error).message }, 'reaper round failed'));
  }, opts.reapIntervalSeconds * 1000);
  timer.unref();
  const server = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }) as HttpServer;
  // An idle keep-alive connection should be closed by its client, not by us: a server that closes first races a
  // client sending its next request on that socket, which then sees ECONNRESET. Node closes after 5 s by
  // default, which a busy event loop turns into a coin toss against undici's 4 s; clients here keep idle
  // sockets far shorter than this.
  server.keepAliveTimeout = keepAliveSeconds * 1000;
  server.headersTimeout = (keepAliveSeconds + 5) * 1000;
  const channel = new AgentChannel(opts.db, bus, live.guard, live.hints, opts.channelPingMs);
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== agentChannelPath) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    channel.handleUpgrade(req, socket, head).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = opts.host === '0.0.0.0' || opts.host === '::' ? 'localhost' : opts.host;
  url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  return {
    url,
    port,
    deps,
    reap,
    channel,
    async close() {
      clearInterval(timer);
      channel.close();
      await live.stop();
      await webhookSender.stop();
      await pullRequestSender.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Long polls and streams would hold close() open; end them.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await bus.stop();
    },
  };
}

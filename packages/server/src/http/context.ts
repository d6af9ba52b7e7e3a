import type { Logger } from 'pino';
import type { Caller } from '../caller.ts';
import type { Db } from '../db/index.ts';
import type { Bus } from '../events/bus.ts';
import type { Live } from '../events/live.ts';
import type { WebhookSender, WebhookSettings } from '../events/webhook-sender.ts';
import type { GitHubAccess } from '../github/access.ts';
import type { Metrics } from '../metrics/registry.ts';
import type { EventLimits } from '../queue/event-limits.ts';

/** What the app needs from the outside world; `createApp(deps)` builds routes around it. */
export interface AppDeps {
  db: Db;
  bus: Bus;
  /** The shared reader of changes and progress, and the guard of open streams and channels. */
  live: Live;
  webhooks: Pick<WebhookSettings, 'allowPrivate'>;
  /** This process's webhook sender (absent in an app built without one). */
  webhookSender?: WebhookSender;
  log: Logger;
  leaseSeconds: number;
  /** The lease of a worker claimed by an older agent (no agentId), which renews only with its progress. */
  legacyLeaseSeconds: number;
  renewSeconds: number;
  agentOfflineSeconds: number;
  /** Per-worker caps on events (defaults in queue/event-limits.ts). */
  eventLimits?: Partial<EventLimits>;
  metrics: Metrics;
  /** GitHub's API URL, the server-wide token if any, and the key that seals workspaces' tokens. */
  github: GitHubAccess;
  /** Artifact size limits (bytes per artifact, per task); protocol's `artifactLimits` when absent. */
  artifactLimits?: { artifactBytes: number; taskBytes: number };
}

/** Hono environment: the deps and, after auth, the calling account (`c.var.account`). */
export interface AppEnv {
  Variables: {
    deps: AppDeps;
    account: Caller;
  };
}

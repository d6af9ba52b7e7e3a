import type { Logger } from 'pino';
import type { Caller } from '../caller.ts';
import type { Db } from '../db/index.ts';
import type { Bus } from '../events/bus.ts';
import type { Live } from '../events/live.ts';
import type { WebhookSender, WebhookSettings } from '../events/webhook-sender.ts';

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
}

/** Hono environment: the deps and, after auth, the calling account (`c.var.account`). */
export interface AppEnv {
  Variables: {
    deps: AppDeps;
    account: Caller;
  };
}

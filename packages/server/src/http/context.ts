import type { Account } from '@buildd/protocol';
import type { Logger } from 'pino';
import type { Db } from '../db/index.ts';
import type { Bus } from '../events/bus.ts';
import type { GitHubClient } from '../github/client.ts';
import type { Metrics } from '../metrics/registry.ts';

/** What the app needs from the outside world; `createApp(deps)` builds routes around it. */
export interface AppDeps {
  db: Db;
  bus: Bus;
  log: Logger;
  leaseSeconds: number;
  renewSeconds: number;
  agentOfflineSeconds: number;
  metrics: Metrics;
  /** Set when the server has a GitHub token (BUILDD_GITHUB_TOKEN). */
  github?: GitHubClient | undefined;
}

export interface AuthedAccount extends Account {
  keyId: string;
  keyPrefix: string;
}

/** Hono environment: the deps and, after auth, the calling account. */
export interface AppEnv {
  Variables: {
    deps: AppDeps;
    account: AuthedAccount;
  };
}

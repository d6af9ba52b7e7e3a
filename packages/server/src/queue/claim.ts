import type { AccountType, AuthType, ClaimReason } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { AccountRow, TaskRow, WorkerRow, WorkspaceRow } from '../db/rows.ts';
import { newId } from '../ids.ts';
import { explainEmptyClaim } from './claim-diagnostics.ts';
import { limitError, secondsUntilUtcMidnight } from './limits.ts';

export interface ClaimRequest {
  accountId: string;
  accountType: AccountType;
  isAdmin: boolean;
  agentId: string;
  authType: AuthType;
  maxTasks: number;
  capabilities: string[];
  /** Workspace ids or names; null = every workspace the account may claim in. */
  workspaces: string[] | null;
  excludeTaskIds: string[];
  leaseSeconds: number;
  retrySeconds: number;
}

export interface Claimed {
  worker: WorkerRow;
  task: TaskRow;
  workspace: WorkspaceRow;
}

export type ClaimResult = { claimed: Claimed[] } | { claimed: []; reason: ClaimReason; message: string };

interface ClaimRow {
  kind: 'claimed' | 'limit';
  task: TaskRow;
  worker: WorkerRow;
  workspace: WorkspaceRow;
  code: 'concurrency_limit' | 'session_limit' | 'cost_limit';
  lim: number;
  cur: number;
}

const limitNames = {
  concurrency_limit: 'concurrent workers',
  session_limit: 'concurrent OAuth sessions',
  cost_limit: 'daily cost (USD)',
} as const;

/**
 * Hands out up to `maxTasks` tasks to one agent (DESIGN §4). The claim itself is ONE statement, the
 * `buildd_claim` function of migration 002 (read it for why it is shaped that way): candidates locked with
 * FOR UPDATE SKIP LOCKED, then the account row, then the limits counted from live rows, then the
 * workspaces' running limits, then the assignment. It commits on its own; only when it hands out nothing
 * does this ask the database why, for the agent's diagnostics. A limit that leaves no slot throws a 429.
 */
export async function claimTasks(db: Queryable, req: ClaimRequest): Promise<ClaimResult> {
  const rows = await db.query<ClaimRow>('SELECT * FROM buildd_claim($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
    req.accountId,
    req.agentId,
    req.authType,
    req.maxTasks,
    req.capabilities,
    req.workspaces,
    req.excludeTaskIds,
    req.leaseSeconds,
    Array.from({ length: req.maxTasks }, () => newId('wkr')),
  ]);
  const limit = rows.find((r) => r.kind === 'limit');
  if (limit) {
    const reset = limit.code === 'cost_limit' ? secondsUntilUtcMidnight() : undefined;
    throw limitError(
      limit.code,
      limitNames[limit.code],
      limit.lim,
      limit.cur,
      reset?.seconds ?? req.retrySeconds,
      reset?.resetsAt,
    );
  }
  if (rows.length > 0)
    return { claimed: rows.map(({ task, worker, workspace }) => ({ task, worker, workspace })) };
  const account = (await db.query<AccountRow>('SELECT * FROM accounts WHERE id = $1', [req.accountId]))[0];
  if (!account) return { claimed: [], reason: 'no_workspaces', message: 'The account no longer exists.' };
  return { claimed: [], ...(await explainEmptyClaim(db, account, req)) };
}

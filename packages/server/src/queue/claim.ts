import type { AuthType, ClaimReason, Resume } from '@buildd/protocol';
import type { Caller } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import type { TaskRow, WorkerRow, WorkspaceRow } from '../db/rows.ts';
import { newId } from '../ids.ts';
import { explainEmptyClaim } from './claim-diagnostics.ts';
import { limitError, secondsUntilUtcMidnight } from './limits.ts';

export interface ClaimRequest {
  caller: Caller;
  /** null: an older agent that names none (each of its workers then gets an identity of its own). */
  agentId: string | null;
  /** null: an older agent that names none (not counted as an OAuth seat). */
  authType: AuthType | null;
  maxTasks: number;
  capabilities: string[];
  /** Workspace ids or names; null = every workspace the account may claim in. */
  workspaces: string[] | null;
  excludeTaskIds: string[];
  /** The lease each new worker gets, and by which each of its PATCHes renews it. */
  leaseSeconds: number;
  retrySeconds: number;
}

export interface Claimed {
  worker: WorkerRow;
  task: TaskRow;
  workspace: WorkspaceRow;
  /** What a resumed attempt starts from (an answer, a conversation to continue); null for a fresh one. */
  resume: Resume | null;
}

export type ClaimResult = { claimed: Claimed[] } | { claimed: []; reason: ClaimReason; message: string };

interface ClaimRow {
  kind: 'claimed' | 'limit';
  task: TaskRow;
  worker: WorkerRow;
  workspace: WorkspaceRow;
  resume: Resume | null;
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
 * Hands out up to `maxTasks` tasks to one agent (the rules: docs/claim.md). The claim itself is ONE
 * statement, the `buildd_claim` function of `claim.sql` beside this file (read it for why it is shaped that
 * way): candidates locked with FOR UPDATE SKIP LOCKED, then the account row, then the limits counted from
 * live rows, then the workspaces' running limits, then the assignment. It commits on its own; only when it
 * hands out nothing does this ask the database why, for the agent's diagnostics. A limit that leaves no
 * slot throws a 429.
 */
export async function claimTasks(db: Queryable, req: ClaimRequest): Promise<ClaimResult> {
  const rows = await db.query<ClaimRow>(
    `SELECT * FROM buildd_claim(p_account => $1, p_agent => $2, p_auth => $3, p_max => $4, p_caps => $5,
       p_workspaces => $6, p_exclude => $7, p_lease_seconds => $8, p_worker_ids => $9)`,
    [
      req.caller.id,
      req.agentId,
      req.authType,
      req.maxTasks,
      req.capabilities,
      req.workspaces,
      req.excludeTaskIds,
      req.leaseSeconds,
      Array.from({ length: req.maxTasks }, () => newId('wkr')),
    ],
  );
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
    return {
      claimed: rows.map(({ task, worker, workspace, resume }) => ({ task, worker, workspace, resume })),
    };
  return { claimed: [], ...(await explainEmptyClaim(db, req)) };
}

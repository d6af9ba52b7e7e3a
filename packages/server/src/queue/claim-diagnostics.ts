import type { ClaimReason } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { AccountRow } from '../db/rows.ts';
import type { ClaimRequest } from './claim.ts';

interface PendingView {
  id: string;
  workspace_id: string;
  runner_preference: string;
  required_capabilities: string[];
  deps_done: boolean;
  waiting: boolean;
  workspace_full: boolean;
}

/**
 * Says why a claim found nothing, so an operator can tell "no work" from "work you cannot take"
 * (missing capability, wrong runner type, dependencies, a full workspace). Runs only on the empty path.
 */
export async function explainEmptyClaim(
  tx: Queryable,
  account: AccountRow,
  req: ClaimRequest,
): Promise<{ reason: ClaimReason; message: string }> {
  const filter = req.workspaces;
  if (filter) {
    const known = await tx.query(
      'SELECT 1 FROM workspaces WHERE id = ANY($1::text[]) OR name = ANY($1::text[])',
      [filter],
    );
    if (known.length === 0)
      return { reason: 'no_workspaces', message: `No workspace matches ${filter.join(', ')}.` };
  }
  const claimable = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM workspaces w
       LEFT JOIN account_workspaces aw ON aw.workspace_id = w.id AND aw.account_id = $1
      WHERE (w.access = 'open' OR $2::boolean OR aw.can_claim)
        AND ($3::text[] IS NULL OR w.id = ANY($3::text[]) OR w.name = ANY($3::text[]))`,
    [account.id, account.level === 'admin', filter],
  );
  if ((claimable[0]?.n ?? 0) === 0) {
    return {
      reason: 'no_workspaces',
      message: 'This account may not claim tasks in any of the requested workspaces.',
    };
  }
  const pending = await tx.query<PendingView>(
    `SELECT t.id, t.workspace_id, t.runner_preference, t.required_capabilities,
            NOT EXISTS (SELECT 1 FROM unnest(t.depends_on) AS d(id) LEFT JOIN tasks dt ON dt.id = d.id
                         WHERE dt.status IS DISTINCT FROM 'completed') AS deps_done,
            (COALESCE(t.not_before > now(), false) OR COALESCE(t.cooldown_agent_id = $4 AND t.cooldown_until > now(), false)
              OR t.id = ANY($5::text[])) AS waiting,
            COALESCE(w.max_running_tasks <= (SELECT count(*) FROM workers k
                                              WHERE k.workspace_id = w.id AND k.status IN ('claimed', 'running')), false)
              AS workspace_full
       FROM tasks t JOIN workspaces w ON w.id = t.workspace_id
       LEFT JOIN account_workspaces aw ON aw.workspace_id = w.id AND aw.account_id = $1
      WHERE t.status = 'pending' AND (w.access = 'open' OR $2::boolean OR aw.can_claim)
        AND ($3::text[] IS NULL OR w.id = ANY($3::text[]) OR w.name = ANY($3::text[]))
      ORDER BY t.priority DESC, t.seq LIMIT 100`,
    [account.id, account.level === 'admin', filter, req.agentId, req.excludeTaskIds],
  );
  if (pending.length === 0) return { reason: 'no_pending_tasks', message: 'No task is waiting.' };

  const offered = new Set(req.capabilities);
  const runnerOk = (t: PendingView) => t.runner_preference === 'any' || t.runner_preference === account.type;
  const missing = (t: PendingView) => t.required_capabilities.filter((c) => !offered.has(c));
  if (pending.every((t) => !runnerOk(t))) {
    return {
      reason: 'runner_mismatch',
      message: `The waiting tasks want a different runner than this ${account.type} account.`,
    };
  }
  const forRunner = pending.filter(runnerOk);
  if (forRunner.every((t) => missing(t).length > 0)) {
    const names = [...new Set(forRunner.flatMap(missing))].slice(0, 10);
    return {
      reason: 'capability_mismatch',
      message: `The waiting tasks need capabilities this agent lacks: ${names.join(', ')}.`,
    };
  }
  const able = forRunner.filter((t) => missing(t).length === 0);
  if (able.every((t) => !t.deps_done)) {
    return {
      reason: 'dependencies_pending',
      message: 'The waiting tasks depend on tasks that have not completed.',
    };
  }
  if (able.filter((t) => t.deps_done).every((t) => t.workspace_full)) {
    return {
      reason: 'workspace_full',
      message: 'The workspaces with waiting tasks are at their running limit.',
    };
  }
  return {
    reason: 'no_pending_tasks',
    message: 'The waiting tasks are backing off after failed attempts or are taken.',
  };
}

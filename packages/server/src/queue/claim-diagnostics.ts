import type { ClaimReason } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { ClaimRequest } from './claim.ts';

interface PendingView {
  required_capabilities: string[];
  fits_runner: boolean;
  capable: boolean;
  dependencies_done: boolean;
  workspace_full: boolean;
}

/**
 * Says why a claim found nothing, so an operator can tell "no work" from "work you cannot take"
 * (missing capability, wrong runner type, dependencies, a full workspace). Runs only on the empty path.
 * It restates no rule: it calls the claim's own condition functions (`claim.sql`) on the waiting tasks
 * and reports the first that holds all of them back.
 */
export async function explainEmptyClaim(
  db: Queryable,
  req: ClaimRequest,
): Promise<{ reason: ClaimReason; message: string }> {
  const filter = req.workspaces;
  // A restricted workspace the caller may not use gets the same answer as one that does not exist, so a
  // claim cannot be used to find out which workspaces exist.
  const [claimable] = await db.query<{ ids: string[] }>(
    'SELECT buildd_claimable_workspaces(p_account => $1, p_workspaces => $2) AS ids',
    [req.caller.id, filter],
  );
  if (!claimable || claimable.ids.length === 0) {
    return {
      reason: 'no_workspaces',
      message: filter
        ? `No workspace this account may claim in matches ${filter.join(', ')}.`
        : 'This account may not claim tasks in any workspace.',
    };
  }
  const pending = await db.query<PendingView>(
    `SELECT t.required_capabilities,
            buildd_task_fits_runner(t, $2) AS fits_runner,
            buildd_task_has_capabilities(t, $3) AS capable,
            buildd_task_dependencies_done(t) AS dependencies_done,
            COALESCE(buildd_workspace_room(w) <= 0, false) AS workspace_full
       FROM tasks t JOIN workspaces w ON w.id = t.workspace_id
      WHERE t.status = 'pending' AND t.workspace_id = ANY($1::text[])
      ORDER BY t.priority DESC, t.seq LIMIT 100`,
    [claimable.ids, req.caller.type, req.capabilities],
  );
  if (pending.length === 0) return { reason: 'no_pending_tasks', message: 'No task is waiting.' };

  const forRunner = pending.filter((t) => t.fits_runner);
  if (forRunner.length === 0) {
    return {
      reason: 'runner_mismatch',
      message: `The waiting tasks want a different runner than this ${req.caller.type} account.`,
    };
  }
  const able = forRunner.filter((t) => t.capable);
  if (able.length === 0) {
    const offered = new Set(req.capabilities);
    const names = [
      ...new Set(forRunner.flatMap((t) => t.required_capabilities.filter((c) => !offered.has(c)))),
    ].slice(0, 10);
    return {
      reason: 'capability_mismatch',
      message: `The waiting tasks need capabilities this agent lacks: ${names.join(', ')}.`,
    };
  }
  const ready = able.filter((t) => t.dependencies_done);
  if (ready.length === 0) {
    return {
      reason: 'dependencies_pending',
      message: 'The waiting tasks depend on tasks that have not completed.',
    };
  }
  if (ready.every((t) => t.workspace_full)) {
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

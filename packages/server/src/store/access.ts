import { type Caller, isAdmin } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import type { WorkspaceRow } from '../db/rows.ts';
import { ApiError, notFound } from '../errors.ts';

/**
 * SQL condition: workspace `w` is visible to account `$n` (admin flag `$n+1`): open, or the account is an
 * admin, or it holds either grant.
 */
export function visibleWorkspaceSql(accountParam: number, adminParam: number): string {
  return `(w.access = 'open' OR $${adminParam}::boolean OR EXISTS (
    SELECT 1 FROM account_workspaces aw
     WHERE aw.workspace_id = w.id AND aw.account_id = $${accountParam} AND (aw.can_claim OR aw.can_create)))`;
}

/** Finds a workspace by id or unique name that the account may see; 404 otherwise (also for others'). */
export async function findVisibleWorkspace(
  db: Queryable,
  caller: Caller,
  idOrName: string,
): Promise<WorkspaceRow & { can_create: boolean }> {
  const rows = await db.query<WorkspaceRow & { can_create: boolean }>(
    `SELECT w.*,
            (w.access = 'open' OR $3::boolean OR COALESCE(aw.can_create, false)) AS can_create
       FROM workspaces w
       LEFT JOIN account_workspaces aw ON aw.workspace_id = w.id AND aw.account_id = $2
      WHERE (w.id = $1 OR w.name = $1) AND ${visibleWorkspaceSql(2, 3)}
      ORDER BY (w.id = $1) DESC LIMIT 1`,
    [idOrName, caller.id, isAdmin(caller)],
  );
  const row = rows[0];
  if (!row) throw notFound('workspace', idOrName);
  return row;
}

/** Throws 403 unless the account may create tasks in the workspace. */
export function assertCanCreate(ws: { can_create: boolean; name: string }): void {
  if (!ws.can_create) {
    throw new ApiError(
      'forbidden',
      `You may not create tasks in workspace "${ws.name}": ask an admin for the can_create grant.`,
    );
  }
}

/**
 * Throws 403 unless the caller may change this task: every member who can see a task may read it and
 * claim it, but editing, cancelling and retrying it is for its creator and admins only.
 */
export function assertCanChange(
  caller: Caller,
  task: { created_by: string },
  change: 'edit' | 'cancel' | 'retry',
): void {
  if (task.created_by !== caller.id && !isAdmin(caller)) {
    throw new ApiError('forbidden', `Only the task's creator or an admin may ${change} it.`);
  }
}

import type { CreateWorkspaceBody, SetMemberBody, UpdateWorkspaceBody } from '@buildd/protocol';
import type { Caller } from '../caller.ts';
import { isAdmin } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import type { WorkspaceRow } from '../db/rows.ts';
import { ApiError } from '../errors.ts';
import { newId } from '../ids.ts';
import { visibleWorkspaceSql } from './access.ts';

const isUniqueViolation = (err: unknown) => (err as { code?: string })?.code === '23505';
const nameTaken = (name: string) => new ApiError('conflict', `A workspace named "${name}" already exists.`);

/**
 * Creates a workspace; a name already in use answers 409. `githubTokenSealed` is the body's token already
 * encrypted (the body's plain `githubToken` is never written).
 */
export async function insertWorkspace(
  db: Queryable,
  body: CreateWorkspaceBody,
  githubTokenSealed: string | null = null,
): Promise<WorkspaceRow> {
  try {
    const rows = await db.query<WorkspaceRow>(
      `INSERT INTO workspaces (id, name, repo_url, default_branch, access, max_running_tasks, config,
                               github_token_sealed)
       VALUES ($1, $2, $3, COALESCE($4, 'main'), COALESCE($5, 'open'), $6, $7::jsonb, $8) RETURNING *`,
      [
        newId('ws'),
        body.name,
        body.repoUrl ?? null,
        body.defaultBranch ?? null,
        body.access ?? null,
        body.maxRunningTasks ?? null,
        JSON.stringify(body.config ?? {}),
        githubTokenSealed,
      ],
    );
    return rows[0]!;
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(body.name);
    throw err;
  }
}

/** A page of the workspaces the caller may see, in name order (one extra row says another page exists). */
export async function listWorkspaces(
  db: Queryable,
  caller: Caller,
  after: string | null,
  limit: number,
): Promise<WorkspaceRow[]> {
  return db.query<WorkspaceRow>(
    `SELECT w.* FROM workspaces w WHERE ${visibleWorkspaceSql(1, 2)} AND ($3::text IS NULL OR w.name > $3)
      ORDER BY w.name LIMIT $4`,
    [caller.id, isAdmin(caller), after, limit + 1],
  );
}

/**
 * Changes the fields given (`null` clears the nullable ones); a name already in use answers 409.
 * `githubTokenSealed`: the new token encrypted, null to remove it, undefined to keep it.
 */
export async function updateWorkspace(
  db: Queryable,
  id: string,
  body: UpdateWorkspaceBody,
  githubTokenSealed?: string | null,
): Promise<WorkspaceRow> {
  try {
    const rows = await db.query<WorkspaceRow>(
      `UPDATE workspaces SET
         name = COALESCE($2, name),
         repo_url = CASE WHEN $3::boolean THEN $4 ELSE repo_url END,
         default_branch = COALESCE($5, default_branch),
         access = COALESCE($6, access),
         max_running_tasks = CASE WHEN $7::boolean THEN $8::integer ELSE max_running_tasks END,
         config = COALESCE($9::jsonb, config),
         github_token_sealed = CASE WHEN $10::boolean THEN $11 ELSE github_token_sealed END
       WHERE id = $1 RETURNING *`,
      [
        id,
        body.name ?? null,
        body.repoUrl !== undefined,
        body.repoUrl ?? null,
        body.defaultBranch ?? null,
        body.access ?? null,
        body.maxRunningTasks !== undefined,
        body.maxRunningTasks ?? null,
        body.config ? JSON.stringify(body.config) : null,
        githubTokenSealed !== undefined,
        githubTokenSealed ?? null,
      ],
    );
    return rows[0]!;
  } catch (err) {
    if (isUniqueViolation(err) && body.name) throw nameTaken(body.name);
    throw err;
  }
}

/** Sets an account's grants in a workspace (both flags, replacing what was there). */
export async function setMember(
  db: Queryable,
  workspaceId: string,
  accountId: string,
  body: SetMemberBody,
): Promise<void> {
  await db.query(
    `INSERT INTO account_workspaces (account_id, workspace_id, can_claim, can_create) VALUES ($1, $2, $3, $4)
     ON CONFLICT (account_id, workspace_id) DO UPDATE SET can_claim = $3, can_create = $4`,
    [accountId, workspaceId, body.canClaim, body.canCreate],
  );
}

/** The grants of a workspace, by account id. */
export async function listMembers(
  db: Queryable,
  workspaceId: string,
): Promise<{ account_id: string; can_claim: boolean; can_create: boolean }[]> {
  return db.query('SELECT * FROM account_workspaces WHERE workspace_id = $1 ORDER BY account_id', [
    workspaceId,
  ]);
}

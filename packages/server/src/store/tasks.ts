import type { CreateTaskBody } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import { type TaskRow, taskColumns, type WorkerRow } from '../db/rows.ts';
import { ApiError, notFound } from '../errors.ts';
import type { AuthedAccount } from '../http/context.ts';
import { newId } from '../ids.ts';
import { visibleWorkspaceSql } from './access.ts';

/** A task the account may see (its workspace is visible to it); 404 otherwise, also for other accounts'. */
export async function findVisibleTask(db: Queryable, account: AuthedAccount, id: string): Promise<TaskRow> {
  const rows = await db.query<TaskRow>(
    `SELECT ${taskColumns} FROM tasks t JOIN workspaces w ON w.id = t.workspace_id
      WHERE t.id = $1 AND ${visibleWorkspaceSql(2, 3)}`,
    [id, account.id, account.level === 'admin'],
  );
  if (!rows[0]) throw notFound('task', id);
  return rows[0];
}

/** The task's workers that the account may see: its own, or all of them for an admin. */
export async function workersOfTask(
  db: Queryable,
  account: AuthedAccount,
  taskId: string,
): Promise<WorkerRow[]> {
  return db.query<WorkerRow>(
    'SELECT * FROM workers WHERE task_id = $1 AND ($2::boolean OR account_id = $3) ORDER BY created_at, id',
    [taskId, account.level === 'admin', account.id],
  );
}

/** Inserts a task after checking that its dependencies exist and are visible. */
export async function insertTask(
  db: Queryable,
  account: AuthedAccount,
  workspaceId: string,
  body: CreateTaskBody,
): Promise<TaskRow> {
  const deps = [...new Set(body.dependsOn ?? [])];
  if (deps.length > 0) {
    const found = await db.query<{ id: string }>(
      `SELECT t.id FROM tasks t JOIN workspaces w ON w.id = t.workspace_id
        WHERE t.id = ANY($1::text[]) AND ${visibleWorkspaceSql(2, 3)}`,
      [deps, account.id, account.level === 'admin'],
    );
    const missing = deps.filter((d) => !found.some((f) => f.id === d));
    if (missing.length > 0) {
      throw new ApiError('validation_failed', `dependsOn names unknown tasks: ${missing.join(', ')}.`, {
        missing,
      });
    }
  }
  const rows = await db.query<TaskRow>(
    `INSERT INTO tasks (id, workspace_id, title, prompt, priority, runner_preference, required_capabilities,
                        depends_on, max_attempts, budget_usd, max_turns, model, created_by)
     VALUES ($1, $2, $3, $4, COALESCE($5, 0), COALESCE($6, 'any'), $7::text[], $8::text[], COALESCE($9, 3),
             $10, $11, $12, $13)
     RETURNING *, 0::double precision AS cost_usd`,
    [
      newId('task'),
      workspaceId,
      body.title,
      body.prompt,
      body.priority ?? null,
      body.runnerPreference ?? null,
      [...new Set(body.requiredCapabilities ?? [])],
      deps,
      body.maxAttempts ?? null,
      body.budgetUsd ?? null,
      body.maxTurns ?? null,
      body.model ?? null,
      account.id,
    ],
  );
  return rows[0]!;
}

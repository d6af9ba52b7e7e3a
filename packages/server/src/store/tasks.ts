import type { CreateTaskBody, TaskStatus, UpdateTaskBody } from '@buildd/protocol';
import { type Caller, isAdmin } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import { type TaskRow, taskColumns, type WorkerEventRow, type WorkerRow } from '../db/rows.ts';
import { ApiError, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { visibleWorkspaceSql } from './access.ts';

/** A task the caller may see (its workspace is visible to it); 404 otherwise, also for other accounts'. */
export async function findVisibleTask(db: Queryable, caller: Caller, id: string): Promise<TaskRow> {
  const rows = await db.query<TaskRow>(
    `SELECT ${taskColumns} FROM tasks t JOIN workspaces w ON w.id = t.workspace_id
      WHERE t.id = $1 AND ${visibleWorkspaceSql(2, 3)}`,
    [id, caller.id, isAdmin(caller)],
  );
  if (!rows[0]) throw notFound('task', id);
  return rows[0];
}

/** A page of the tasks the caller may see, newest first (one extra row says another page exists). */
export async function listTasks(
  db: Queryable,
  caller: Caller,
  filter: {
    workspaceId: string | null;
    status: TaskStatus | null;
    createdBy: string | null;
    beforeSeq: number | null;
  },
  limit: number,
): Promise<TaskRow[]> {
  return db.query<TaskRow>(
    `SELECT ${taskColumns} FROM tasks t JOIN workspaces w ON w.id = t.workspace_id
      WHERE ${visibleWorkspaceSql(1, 2)} AND ($3::text IS NULL OR t.workspace_id = $3)
        AND ($4::text IS NULL OR t.status = $4) AND ($5::bigint IS NULL OR t.seq < $5)
        AND ($7::text IS NULL OR t.created_by = $7)
      ORDER BY t.seq DESC LIMIT $6`,
    [
      caller.id,
      isAdmin(caller),
      filter.workspaceId,
      filter.status,
      filter.beforeSeq,
      limit + 1,
      filter.createdBy,
    ],
  );
}

/** The task's workers that the caller may see: its own, or all of them for an admin. */
export async function workersOfTask(db: Queryable, caller: Caller, taskId: string): Promise<WorkerRow[]> {
  return db.query<WorkerRow>(
    'SELECT * FROM workers WHERE task_id = $1 AND ($2::boolean OR account_id = $3) ORDER BY created_at, id',
    [taskId, isAdmin(caller), caller.id],
  );
}

/** The task's progress events after position `after`, in order, up to `limit` of them. */
export async function eventsOfTask(
  db: Queryable,
  taskId: string,
  after: number,
  limit: number,
): Promise<WorkerEventRow[]> {
  return db.query<WorkerEventRow>(
    `SELECT id, worker_id, seq, type, at, data FROM worker_events
      WHERE task_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
    [taskId, after, limit],
  );
}

/** Inserts a task after checking that its dependencies exist and are visible. */
export async function insertTask(
  db: Queryable,
  caller: Caller,
  workspaceId: string,
  body: CreateTaskBody,
): Promise<TaskRow> {
  const deps = [...new Set(body.dependsOn ?? [])];
  if (deps.length > 0) {
    const found = await db.query<{ id: string }>(
      `SELECT t.id FROM tasks t JOIN workspaces w ON w.id = t.workspace_id
        WHERE t.id = ANY($1::text[]) AND ${visibleWorkspaceSql(2, 3)}`,
      [deps, caller.id, isAdmin(caller)],
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
      caller.id,
    ],
  );
  return rows[0]!;
}

/** Changes the fields given of a task that is still pending; 409 once it has been claimed. */
export async function updatePendingTask(
  db: Queryable,
  task: TaskRow,
  body: UpdateTaskBody,
): Promise<TaskRow> {
  const rows = await db.query<TaskRow>(
    `UPDATE tasks SET title = COALESCE($2, title), prompt = COALESCE($3, prompt), priority = COALESCE($4, priority),
            runner_preference = COALESCE($5, runner_preference),
            required_capabilities = COALESCE($6::text[], required_capabilities),
            max_attempts = COALESCE($7, max_attempts),
            budget_usd = CASE WHEN $8::boolean THEN $9 ELSE budget_usd END,
            max_turns = CASE WHEN $10::boolean THEN $11::integer ELSE max_turns END,
            model = CASE WHEN $12::boolean THEN $13 ELSE model END, updated_at = now()
      WHERE id = $1 AND status = 'pending' RETURNING *, 0::double precision AS cost_usd`,
    [
      task.id,
      body.title ?? null,
      body.prompt ?? null,
      body.priority ?? null,
      body.runnerPreference ?? null,
      body.requiredCapabilities ?? null,
      body.maxAttempts ?? null,
      body.budgetUsd !== undefined,
      body.budgetUsd ?? null,
      body.maxTurns !== undefined,
      body.maxTurns ?? null,
      body.model !== undefined,
      body.model ?? null,
    ],
  );
  if (!rows[0])
    throw new ApiError('conflict', `The task is ${task.status}; only a pending task can be changed.`);
  return rows[0];
}

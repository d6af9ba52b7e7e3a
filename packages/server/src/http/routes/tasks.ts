import { CreateTaskBody, ListTasksQuery, PageQuery, UpdateTaskBody } from '@buildd/protocol';
import { Hono } from 'hono';
import {
  type TaskRow,
  taskColumns,
  toTask,
  toWorker,
  toWorkerEvent,
  type WorkerEventRow,
} from '../../db/rows.ts';
import { ApiError } from '../../errors.ts';
import { dispatchToActionRunner } from '../../github/dispatch-task.ts';
import { cancelTask } from '../../queue/cancel-task.ts';
import { retryTask } from '../../queue/retry-task.ts';
import { assertCanCreate, findVisibleWorkspace, visibleWorkspaceSql } from '../../store/access.ts';
import { findVisibleTask, insertTask, workersOfTask } from '../../store/tasks.ts';
import { readJson, readQuery } from '../body.ts';
import type { AppEnv } from '../context.ts';
import { pageOf } from '../paging.ts';

/** Tasks: create, list, read with workers and events, change while pending, cancel, retry. */
export function taskRoutes() {
  const r = new Hono<AppEnv>();

  r.post('/tasks', async (c) => {
    const body = await readJson(c, CreateTaskBody);
    const { db, bus } = c.var.deps;
    const me = c.var.account;
    const task = await db.transaction(async (tx) => {
      const ws = await findVisibleWorkspace(tx, me, body.workspaceId);
      assertCanCreate(ws);
      return insertTask(tx, me, ws.id, body);
    });
    await bus.publish('buildd_tasks', task.workspace_id);
    void dispatchToActionRunner(c.var.deps, task);
    return c.json(toTask(task), 201);
  });

  r.get('/tasks', async (c) => {
    const q = readQuery(c, ListTasksQuery);
    const { db } = c.var.deps;
    const me = c.var.account;
    const wsId = q.workspaceId ? (await findVisibleWorkspace(db, me, q.workspaceId)).id : null;
    const limit = q.limit ?? 50;
    const cursor = q.cursor && /^\d+$/.test(q.cursor) ? Number(q.cursor) : null;
    const rows = await db.query<TaskRow>(
      `SELECT ${taskColumns} FROM tasks t JOIN workspaces w ON w.id = t.workspace_id
        WHERE ${visibleWorkspaceSql(1, 2)} AND ($3::text IS NULL OR t.workspace_id = $3)
          AND ($4::text IS NULL OR t.status = $4) AND ($5::bigint IS NULL OR t.seq < $5)
        ORDER BY t.seq DESC LIMIT $6`,
      [me.id, me.level === 'admin', wsId, q.status ?? null, cursor, limit + 1],
    );
    return c.json(pageOf(rows, limit, toTask, (t) => t.seq));
  });

  r.get('/tasks/:id', async (c) => {
    const { db } = c.var.deps;
    const task = await findVisibleTask(db, c.var.account, c.req.param('id'));
    const workers = await workersOfTask(db, c.var.account, task.id);
    return c.json({ ...toTask(task), workers: workers.map(toWorker) });
  });

  r.patch('/tasks/:id', async (c) => {
    const body = await readJson(c, UpdateTaskBody);
    const { db } = c.var.deps;
    const me = c.var.account;
    const task = await findVisibleTask(db, me, c.req.param('id'));
    assertCanCreate(await findVisibleWorkspace(db, me, task.workspace_id));
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
    await c.var.deps.bus.publish('buildd_tasks');
    return c.json(toTask(rows[0]));
  });

  r.post('/tasks/:id/cancel', async (c) => {
    const { db, bus } = c.var.deps;
    const me = c.var.account;
    const found = await findVisibleTask(db, me, c.req.param('id'));
    assertCanCreate(await findVisibleWorkspace(db, me, found.workspace_id));
    const { liveWorkerIds } = await db.transaction((tx) => cancelTask(tx, found.id));
    for (const id of liveWorkerIds) await bus.publish('buildd_cancel', id);
    return c.json(toTask(await findVisibleTask(db, me, found.id)));
  });

  r.post('/tasks/:id/retry', async (c) => {
    const { db, bus } = c.var.deps;
    const me = c.var.account;
    const found = await findVisibleTask(db, me, c.req.param('id'));
    assertCanCreate(await findVisibleWorkspace(db, me, found.workspace_id));
    await db.transaction((tx) => retryTask(tx, found.id));
    await bus.publish('buildd_tasks', found.workspace_id);
    return c.json(toTask(await findVisibleTask(db, me, found.id)));
  });

  r.get('/tasks/:id/events', async (c) => {
    const q = readQuery(c, PageQuery.extend({ after: PageQuery.shape.cursor }));
    const { db } = c.var.deps;
    const task = await findVisibleTask(db, c.var.account, c.req.param('id'));
    const after = q.after ?? q.cursor;
    const limit = q.limit ?? 200;
    const rows = await db.query<WorkerEventRow>(
      `SELECT id, worker_id, seq, type, at, data FROM worker_events
        WHERE task_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
      [task.id, after && /^\d+$/.test(after) ? Number(after) : 0, limit + 1],
    );
    return c.json(pageOf(rows, limit, toWorkerEvent, (e) => e.id));
  });

  return r;
}

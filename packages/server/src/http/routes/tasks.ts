import { CreateTaskBody, ListTasksQuery, PageQuery, UpdateTaskBody } from '@buildd/protocol';
import { Hono } from 'hono';
import { toTask, toWorker, toWorkerEvent } from '../../db/rows.ts';
import { dispatchToActionRunner } from '../../github/dispatch-task.ts';
import { cancelTask } from '../../queue/cancel-task.ts';
import { retryTask } from '../../queue/retry-task.ts';
import { assertCanChange, assertCanCreate, findVisibleWorkspace } from '../../store/access.ts';
import {
  eventsOfTask,
  findVisibleTask,
  insertTask,
  listTasks,
  updatePendingTask,
  workersOfTask,
} from '../../store/tasks.ts';
import { readJson, readQuery } from '../body.ts';
import type { AppEnv } from '../context.ts';
import { cursorNumber, pageOf } from '../paging.ts';

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
    const workspaceId = q.workspaceId ? (await findVisibleWorkspace(db, me, q.workspaceId)).id : null;
    const limit = q.limit ?? 50;
    const createdBy = q.createdBy === 'me' ? me.id : (q.createdBy ?? null);
    const filter = {
      workspaceId,
      status: q.status ?? null,
      createdBy,
      beforeSeq: cursorNumber(q.cursor, 'cursor'),
    };
    const rows = await listTasks(db, me, filter, limit);
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
    const { db, bus } = c.var.deps;
    const me = c.var.account;
    const task = await findVisibleTask(db, me, c.req.param('id'));
    assertCanChange(me, task, 'edit');
    assertCanCreate(await findVisibleWorkspace(db, me, task.workspace_id));
    const updated = await updatePendingTask(db, task, body);
    await bus.publish('buildd_tasks');
    return c.json(toTask(updated));
  });

  r.post('/tasks/:id/cancel', async (c) => {
    const { db, bus } = c.var.deps;
    const me = c.var.account;
    const found = await findVisibleTask(db, me, c.req.param('id'));
    assertCanChange(me, found, 'cancel');
    const { liveWorkerIds } = await db.transaction((tx) => cancelTask(tx, found.id, me.id));
    for (const id of liveWorkerIds) await bus.publish('buildd_cancel', id);
    return c.json(toTask(await findVisibleTask(db, me, found.id)));
  });

  r.post('/tasks/:id/retry', async (c) => {
    const { db, bus } = c.var.deps;
    const me = c.var.account;
    const found = await findVisibleTask(db, me, c.req.param('id'));
    assertCanChange(me, found, 'retry');
    assertCanCreate(await findVisibleWorkspace(db, me, found.workspace_id));
    // Read in the retry's transaction: once hinted, an agent may claim the task before this answers.
    const retried = await db.transaction(async (tx) => {
      await retryTask(tx, found.id, me.id);
      return findVisibleTask(tx, me, found.id);
    });
    await bus.publish('buildd_tasks', found.workspace_id);
    return c.json(toTask(retried));
  });

  r.get('/tasks/:id/events', async (c) => {
    const q = readQuery(c, PageQuery.extend({ after: PageQuery.shape.cursor }));
    const { db } = c.var.deps;
    const task = await findVisibleTask(db, c.var.account, c.req.param('id'));
    const limit = q.limit ?? 200;
    const rows = await eventsOfTask(
      db,
      task.id,
      cursorNumber(q.after ?? q.cursor, q.after ? 'after' : 'cursor') ?? 0,
      limit + 1,
    );
    return c.json(pageOf(rows, limit, toWorkerEvent, (e) => e.id));
  });

  return r;
}

import { DeliveredMessagesBody, PendingMessages, TextBody } from '@buildd/protocol';
import { Hono } from 'hono';
import { isAdmin } from '../../caller.ts';
import { retryTransient } from '../../db/retry.ts';
import { toTask } from '../../db/rows.ts';
import { ApiError } from '../../errors.ts';
import { sendMessage } from '../../queue/send-message.ts';
import { findVisibleTask } from '../../store/tasks.ts';
import { markMessagesDelivered, pendingMessagesOfWorker } from '../../store/worker-input.ts';
import { agentIdHeader, assertHolderAgent } from '../../store/workers.ts';
import { readJson } from '../body.ts';
import type { AppEnv } from '../context.ts';

/**
 * Messages from a person to a task (its creator or an admin): into the live session of a running task
 * (pushed to the holder's agent, which also polls for them), or a follow-up attempt of a finished one.
 */
export function messageRoutes() {
  const r = new Hono<AppEnv>();

  r.post('/tasks/:id/messages', async (c) => {
    const body = await readJson(c, TextBody);
    const { db, bus } = c.var.deps;
    const me = c.var.account;
    const task = await findVisibleTask(db, me, c.req.param('id'));
    if (task.created_by !== me.id && !isAdmin(me)) {
      throw new ApiError('forbidden', 'Only the task’s creator or an admin may send it a message.');
    }
    // Answered with the task as the message left it (read in its transaction: once hinted, an agent may
    // claim a follow-up before this answers).
    const { sent, after } = await retryTransient(() =>
      db.transaction(async (tx) => {
        const result = await sendMessage(tx, me, task.id, body.text);
        return { sent: result, after: await findVisibleTask(tx, me, task.id) };
      }),
    );
    if (sent.delivery === 'session') await bus.publish('buildd_worker_input', sent.workerId);
    else await bus.publish('buildd_tasks', task.workspace_id);
    return c.json(toTask(after), 202);
  });

  r.get('/workers/:id/messages', async (c) => {
    const items = await pendingMessagesOfWorker(c.var.deps.db, c.var.account, c.req.param('id'));
    return c.json(PendingMessages.parse({ items }));
  });

  r.post('/workers/:id/messages/delivered', async (c) => {
    const body = await readJson(c, DeliveredMessagesBody);
    const { db } = c.var.deps;
    const workerId = c.req.param('id');
    await assertHolderAgent(db, c.var.account.id, workerId, c.req.header(agentIdHeader));
    const marked = await markMessagesDelivered(db, c.var.account, workerId, body.ids);
    return c.json({ marked });
  });

  return r;
}

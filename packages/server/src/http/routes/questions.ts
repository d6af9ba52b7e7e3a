import { AskQuestionBody, TextBody } from '@buildd/protocol';
import { Hono } from 'hono';
import { isAdmin } from '../../caller.ts';
import { retryTransient } from '../../db/retry.ts';
import { toTask } from '../../db/rows.ts';
import { ApiError } from '../../errors.ts';
import { answerQuestion } from '../../queue/answer-question.ts';
import { askQuestion } from '../../queue/ask-question.ts';
import { questionOfWorker } from '../../store/questions.ts';
import { findVisibleTask } from '../../store/tasks.ts';
import { readJson } from '../body.ts';
import type { AppEnv } from '../context.ts';

/**
 * Questions: a run asks (holder), a person answers (the task's creator or an admin), the run reads it.
 */
export function questionRoutes() {
  const r = new Hono<AppEnv>();

  r.post('/workers/:id/question', async (c) => {
    const body = await readJson(c, AskQuestionBody);
    const { db, bus, leaseSeconds } = c.var.deps;
    const asked = await retryTransient(() =>
      db.transaction((tx) => askQuestion(tx, c.var.account, c.req.param('id'), body, leaseSeconds)),
    );
    await bus.publish('buildd_tasks', asked.workspaceId);
    return c.json(asked.question, 201);
  });

  r.get('/workers/:id/question', async (c) => {
    return c.json(await questionOfWorker(c.var.deps.db, c.var.account, c.req.param('id')));
  });

  r.post('/tasks/:id/answer', async (c) => {
    const body = await readJson(c, TextBody);
    const { db, bus } = c.var.deps;
    const me = c.var.account;
    const task = await findVisibleTask(db, me, c.req.param('id'));
    if (task.created_by !== me.id && !isAdmin(me)) {
      throw new ApiError('forbidden', 'Only the task’s creator or an admin may answer its question.');
    }
    // The answer shows the task as the answer left it, read in its transaction: after the hint below an
    // agent may already have claimed it.
    const { liveWorkerId, answered } = await retryTransient(() =>
      db.transaction(async (tx) => {
        const result = await answerQuestion(tx, me, task.id, body.text);
        return { ...result, answered: await findVisibleTask(tx, me, task.id) };
      }),
    );
    // A waiting run gets the answer pushed (its poll is the fallback); a parked task is claimable again.
    if (liveWorkerId) await bus.publish('buildd_worker_input', liveWorkerId);
    else await bus.publish('buildd_tasks', task.workspace_id);
    return c.json(toTask(answered));
  });

  return r;
}

import type { TaskMessage } from '@buildd/protocol';
import type { Caller } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import { ApiError, notFound } from '../errors.ts';

/** The task of a live worker the caller holds; 404 for another account's, 409 once it is not live. */
async function liveWorkerTask(db: Queryable, caller: Caller, workerId: string): Promise<string> {
  const [worker] = await db.query<{ task_id: string; status: string }>(
    'SELECT task_id, status FROM workers WHERE id = $1 AND account_id = $2',
    [workerId, caller.id],
  );
  if (!worker) throw notFound('worker', workerId);
  if (!['claimed', 'running', 'waiting_input'].includes(worker.status)) {
    throw new ApiError('worker_not_live', `This worker is ${worker.status}; stop the run.`);
  }
  return worker.task_id;
}

/** Messages to the worker's task that no session has taken yet, oldest first. */
export async function pendingMessagesOfWorker(
  db: Queryable,
  caller: Caller,
  workerId: string,
): Promise<TaskMessage[]> {
  const taskId = await liveWorkerTask(db, caller, workerId);
  return pendingMessagesOfTask(db, taskId);
}

/** A task's undelivered messages (also what the push channel sends to the holder). */
export async function pendingMessagesOfTask(db: Queryable, taskId: string): Promise<TaskMessage[]> {
  const rows = await db.query<{ id: string; text: string; created_at: Date }>(
    `SELECT id, text, created_at FROM task_messages
      WHERE task_id = $1 AND delivered_at IS NULL ORDER BY created_at, id LIMIT 100`,
    [taskId],
  );
  return rows.map((r) => ({ id: r.id, text: r.text, createdAt: new Date(r.created_at).toISOString() }));
}

/** The holder put these messages into its session; answers how many were still undelivered. */
export async function markMessagesDelivered(
  db: Queryable,
  caller: Caller,
  workerId: string,
  ids: string[],
): Promise<number> {
  const taskId = await liveWorkerTask(db, caller, workerId);
  const rows = await db.query(
    `UPDATE task_messages SET delivered_at = now(), worker_id = $2
      WHERE task_id = $1 AND id = ANY($3::text[]) AND delivered_at IS NULL RETURNING id`,
    [taskId, workerId, ids],
  );
  return rows.length;
}

/** The answer to a live worker's newest question, if a person gave one (pushed to the waiting run). */
export async function answerOfWorker(
  db: Queryable,
  workerId: string,
): Promise<{ questionId: string; text: string } | undefined> {
  const [row] = await db.query<{ id: string; answer: string | null }>(
    'SELECT id, answer FROM questions WHERE worker_id = $1 ORDER BY asked_at DESC LIMIT 1',
    [workerId],
  );
  return row?.answer != null ? { questionId: row.id, text: row.answer } : undefined;
}

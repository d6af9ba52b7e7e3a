import type { QuestionWithAnswer } from '@buildd/protocol';
import type { Caller } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import { notFound } from '../errors.ts';

/** The newest question a worker of the caller asked, with its answer once there is one; 404 if none. */
export async function questionOfWorker(
  db: Queryable,
  caller: Caller,
  workerId: string,
): Promise<QuestionWithAnswer> {
  const [row] = await db.query<{
    id: string;
    text: string;
    options: string[];
    asked_at: Date;
    answer: string | null;
    answered_at: Date | null;
  }>(
    `SELECT q.id, q.text, q.options, q.asked_at, q.answer, q.answered_at
       FROM questions q JOIN workers w ON w.id = q.worker_id
      WHERE q.worker_id = $1 AND w.account_id = $2 ORDER BY q.asked_at DESC LIMIT 1`,
    [workerId, caller.id],
  );
  if (!row) throw notFound('question of worker', workerId);
  return {
    id: row.id,
    text: row.text,
    options: row.options,
    askedAt: new Date(row.asked_at).toISOString(),
    answer: row.answer,
    answeredAt: row.answered_at ? new Date(row.answered_at).toISOString() : null,
  };
}

/**
 * A resumed attempt works on the branch of the attempt before it (a follow-up's commit lands there), not
 * on a new one; answers the branch the worker now has.
 */
export async function continueOnEarlierBranch(
  db: Queryable,
  workerId: string,
  taskId: string,
): Promise<string | undefined> {
  const [row] = await db.query<{ branch: string }>(
    `UPDATE workers w SET branch = p.branch
       FROM (SELECT branch FROM workers WHERE task_id = $2 AND id <> $1 ORDER BY created_at DESC LIMIT 1) p
      WHERE w.id = $1 RETURNING w.branch`,
    [workerId, taskId],
  );
  return row?.branch;
}

import type { Caller } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import { ApiError } from '../errors.ts';

/**
 * A person answers a task's open question. A run still waiting (its worker live in `waiting_input`) gets
 * worker and task back to `running` and reads the answer from `GET /api/workers/:id/question`. A parked
 * task (no live worker) becomes `pending` with the answer as its `resume_input`: the next attempt, by any
 * agent, continues the kept conversation with it. The task row is locked first, so an answer and a
 * parking report serialize (see `buildd_finish_task` in update-worker.sql).
 */
export async function answerQuestion(
  tx: Queryable,
  caller: Caller,
  taskId: string,
  text: string,
): Promise<{ liveWorkerId: string | null }> {
  // Lock order worker → task, as a PATCH takes them, so an answer racing a parking report cannot deadlock.
  await tx.query(
    `SELECT 1 FROM workers WHERE task_id = $1 AND status IN ('claimed', 'running', 'waiting_input') FOR UPDATE`,
    [taskId],
  );
  const [task] = await tx.query<{ status: string }>('SELECT status FROM tasks WHERE id = $1 FOR UPDATE', [
    taskId,
  ]);
  const [open] = await tx.query<{ id: string; worker_id: string }>(
    `SELECT id, worker_id FROM questions WHERE task_id = $1 AND answer IS NULL ORDER BY asked_at DESC LIMIT 1`,
    [taskId],
  );
  if (task?.status !== 'waiting_input' || !open) {
    throw new ApiError(
      'conflict',
      `The task is ${task?.status ?? 'gone'} and has no open question to answer.`,
    );
  }
  await tx.query(
    `UPDATE questions SET answer = $2, answered_by = $3, answered_at = now() WHERE task_id = $1 AND answer IS NULL`,
    [taskId, text, caller.id],
  );
  const [live] = await tx.query<{ id: string }>(
    `UPDATE workers SET status = 'running', current_action = NULL
      WHERE task_id = $1 AND status = 'waiting_input' RETURNING id`,
    [taskId],
  );
  await tx.query(
    `UPDATE tasks SET question = NULL, updated_at = now(),
            status = CASE WHEN $2::boolean THEN 'running' ELSE 'pending' END,
            resume_input = CASE WHEN $2::boolean THEN resume_input
                                ELSE jsonb_build_object('kind', 'answer', 'text', $3::text) END,
            not_before = NULL
      WHERE id = $1`,
    [taskId, live !== undefined, text],
  );
  return { liveWorkerId: live?.id ?? null };
}

import type { Queryable } from '../db/index.ts';
import { ApiError } from '../errors.ts';

/**
 * A follow-up instruction to a finished task: a new attempt (fresh attempts, no cool-down, so any agent may
 * take it) that continues on the same branch with the instruction as its `resume_input`. A task that is
 * still pending, running or waiting is refused: edit the prompt, or answer its question, instead.
 */
export async function followUpTask(tx: Queryable, taskId: string, text: string): Promise<void> {
  const rows = await tx.query(
    `UPDATE tasks SET status = 'pending', attempts = 0, error = NULL, exit_cause = NULL, not_before = NULL,
            cooldown_agent_id = NULL, cooldown_until = NULL, finished_at = NULL, updated_at = now(),
            question = NULL, resume_input = jsonb_build_object('kind', 'message', 'text', $2::text)
      WHERE id = $1 AND status IN ('completed', 'failed')
        AND NOT EXISTS (SELECT 1 FROM workers WHERE task_id = $1 AND status IN ('claimed', 'running', 'waiting_input'))
      RETURNING id`,
    [taskId, text],
  );
  if (rows.length === 0) {
    const [current] = await tx.query<{ status: string }>('SELECT status FROM tasks WHERE id = $1', [taskId]);
    throw new ApiError(
      'conflict',
      `The task is ${current?.status ?? 'gone'} with no run to take a message: a message goes into a running task's session, or starts a follow-up of a completed or failed one (edit a pending task's prompt, or answer a parked task's question).`,
    );
  }
}

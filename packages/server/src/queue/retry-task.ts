import type { Queryable } from '../db/index.ts';
import type { TaskRow } from '../db/rows.ts';
import { ApiError } from '../errors.ts';

/** Puts a failed or cancelled task back in the queue with a fresh set of attempts, recording who did. */
export async function retryTask(tx: Queryable, taskId: string, byAccountId: string): Promise<TaskRow> {
  const rows = await tx.query<TaskRow>(
    `UPDATE tasks SET status = 'pending', attempts = 0, error = NULL, exit_cause = NULL, result = NULL,
            not_before = NULL, cooldown_agent_id = NULL, cooldown_until = NULL, finished_at = NULL, updated_at = now(),
            retried_by = $2, retried_at = now()
      WHERE id = $1 AND status IN ('failed', 'cancelled')
        AND NOT EXISTS (SELECT 1 FROM workers WHERE task_id = $1 AND status IN ('claimed', 'running', 'waiting_input'))
      RETURNING *`,
    [taskId, byAccountId],
  );
  if (!rows[0]) {
    const current = await tx.query<{ status: string }>('SELECT status FROM tasks WHERE id = $1', [taskId]);
    throw new ApiError(
      'conflict',
      `The task is ${current[0]?.status ?? 'gone'}; only a failed or cancelled task whose run has stopped can be retried.`,
    );
  }
  return rows[0];
}

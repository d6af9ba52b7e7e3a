import type { Queryable } from '../db/index.ts';
import type { TaskRow } from '../db/rows.ts';
import { ApiError } from '../errors.ts';

/**
 * Cancels a task that has not finished. A live worker is left live on purpose: its agent learns of the
 * cancel on its next PATCH (`abort: true, reason: cancelled`) or through the push channel, and its final
 * report, with the cost it used, is still recorded. The task records who cancelled it. Returns the ids of the live workers to notify.
 */
export async function cancelTask(
  tx: Queryable,
  taskId: string,
  byAccountId: string,
): Promise<{ task: TaskRow; liveWorkerIds: string[] }> {
  const rows = await tx.query<TaskRow>(
    `UPDATE tasks SET status = 'cancelled', exit_cause = 'cancelled', finished_at = now(), updated_at = now(),
            cancelled_by = $2, cancelled_at = now()
      WHERE id = $1 AND status IN ('pending', 'assigned', 'running', 'waiting_input') RETURNING *`,
    [taskId, byAccountId],
  );
  if (!rows[0]) {
    const current = await tx.query<{ status: string }>('SELECT status FROM tasks WHERE id = $1', [taskId]);
    throw new ApiError(
      'conflict',
      `The task is already ${current[0]?.status ?? 'gone'}; only unfinished tasks can be cancelled.`,
    );
  }
  const live = await tx.query<{ id: string }>(
    `SELECT id FROM workers WHERE task_id = $1 AND status IN ('claimed', 'running', 'waiting_input')`,
    [taskId],
  );
  return { task: rows[0], liveWorkerIds: live.map((w) => w.id) };
}

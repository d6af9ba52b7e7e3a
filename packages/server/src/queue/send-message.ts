import type { Caller } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import { newId } from '../ids.ts';
import { followUpTask } from './follow-up.ts';

/** Where a person's message went: into the live session of `workerId`, or a new attempt. */
export type SentMessage = { delivery: 'session'; workerId: string; id: string } | { delivery: 'follow_up' };

/**
 * A person's message to a task. A task with a live worker (claimed, running or waiting for an answer) gets
 * it queued for that run's session: the row stays until the holder's agent says it delivered it, so a push
 * lost on a dropped socket is found by the agent's poll. A completed or failed task gets a follow-up (a new
 * attempt that resumes its conversation); anything else is refused by `followUpTask`. The worker is locked
 * before the task, as a PATCH locks them, so a message racing the run's final report cannot deadlock.
 */
export async function sendMessage(
  tx: Queryable,
  caller: Caller,
  taskId: string,
  text: string,
): Promise<SentMessage> {
  const [live] = await tx.query<{ id: string }>(
    `SELECT id FROM workers WHERE task_id = $1 AND status IN ('claimed', 'running', 'waiting_input') FOR UPDATE`,
    [taskId],
  );
  await tx.query('SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE', [taskId]);
  if (!live) {
    await followUpTask(tx, taskId, text);
    return { delivery: 'follow_up' };
  }
  const id = newId('msg');
  await tx.query('INSERT INTO task_messages (id, task_id, text, sent_by) VALUES ($1, $2, $3, $4)', [
    id,
    taskId,
    text,
    caller.id,
  ]);
  return { delivery: 'session', workerId: live.id, id };
}

// Messages still undelivered when a run completes become the task's follow-up in the completing PATCH's own
// statement (`buildd_finish_task` in update-worker.sql), so nothing a person sent is lost because the session
// ended just before it arrived.

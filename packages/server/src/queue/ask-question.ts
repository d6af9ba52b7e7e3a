import type { AskQuestionBody, Question } from '@buildd/protocol';
import type { Caller } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import { ApiError, notFound } from '../errors.ts';
import { newId } from '../ids.ts';

/**
 * The holder's run asks a person: its worker and task become `waiting_input` and the task shows the
 * question. The worker stays live (lease renewed here, and by the agent's heartbeats while it waits), so it
 * keeps its slot; `queue/answer-question.ts` moves both back.
 */
export async function askQuestion(
  tx: Queryable,
  caller: Caller,
  workerId: string,
  body: AskQuestionBody,
  leaseSeconds: number,
): Promise<{ taskId: string; workspaceId: string; question: Question }> {
  const [worker] = await tx.query<{ task_id: string; workspace_id: string }>(
    `UPDATE workers SET status = 'waiting_input', current_action = 'Waiting for an answer',
            lease_expires_at = now() + make_interval(secs => COALESCE(lease_seconds, $3))
      WHERE id = $1 AND account_id = $2 AND status IN ('claimed', 'running', 'waiting_input')
      RETURNING task_id, workspace_id`,
    [workerId, caller.id, leaseSeconds],
  );
  if (!worker) {
    const [found] = await tx.query<{ status: string }>(
      'SELECT status FROM workers WHERE id = $1 AND account_id = $2',
      [workerId, caller.id],
    );
    if (!found) throw notFound('worker', workerId);
    throw new ApiError('worker_not_live', `This worker is ${found.status}; stop the run.`);
  }
  const [row] = await tx.query<{ id: string; asked_at: Date }>(
    `INSERT INTO questions (id, task_id, worker_id, text, options) VALUES ($1, $2, $3, $4, $5::text[])
     RETURNING id, asked_at`,
    [newId('q'), worker.task_id, workerId, body.text, body.options ?? []],
  );
  const question: Question = {
    id: row!.id,
    text: body.text,
    options: body.options ?? [],
    askedAt: new Date(row!.asked_at).toISOString(),
  };
  await tx.query(
    `UPDATE tasks SET status = 'waiting_input', question = $2::jsonb, updated_at = now()
      WHERE id = $1 AND status IN ('assigned', 'running', 'waiting_input')`,
    [worker.task_id, JSON.stringify(question)],
  );
  return { taskId: worker.task_id, workspaceId: worker.workspace_id, question };
}

import { TaskResult } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { WorkerRow } from '../db/rows.ts';
import { wantPullRequest } from './pull-requests.ts';
import { followUpUndelivered } from './send-message.ts';

/**
 * Exit causes after which the same task is worth another attempt (by another agent, after a backoff):
 * the run was given back or broke for reasons outside the task. A task that ran out of turns or budget, or
 * was cancelled, fails for good until someone retries it by hand.
 */
const retryableCauses = new Set([
  'shutdown',
  'cost_limit',
  'auth',
  'sdk',
  'git',
  'api_error',
  'timeout',
  'error',
  'aborted',
  'lost',
]);

/** Backoff before the next attempt grows 5 s, 10 s, 20 s … up to this. */
export const maxBackoffSeconds = 300;

/** How long the agent that just failed a task is kept from claiming it again. */
export const cooldownSeconds = 600;

/** The worker column of a protocol field: `commitSha` → `commit_sha`. */
export const columnOf = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const resultFields = Object.keys(TaskResult.shape);

/** Moves the task after its worker reached a final state (completed, failed, cancelled). */
export async function finishTask(tx: Queryable, worker: WorkerRow): Promise<void> {
  if (worker.exit_cause === 'parked') {
    await parkTask(tx, worker.task_id);
    return;
  }
  if (worker.status === 'completed') {
    // The task's result is the worker's columns of the same names (the protocol's TaskResult).
    const columns = worker as unknown as Record<string, unknown>;
    const result = Object.fromEntries(resultFields.map((f) => [f, columns[columnOf(f)] ?? null]));
    await wantPullRequest(tx, worker);
    // The pull request an earlier attempt opened stays linked until the server updates it.
    await tx.query(
      `UPDATE tasks SET status = 'completed', error = NULL, exit_cause = 'completed',
              result = $2::jsonb || jsonb_build_object('prUrl', COALESCE($2::jsonb ->> 'prUrl', pull_request ->> 'url')),
              question = NULL, resume_input = NULL,
              finished_at = now(), updated_at = now()
        WHERE id = $1 AND status IN ('assigned', 'running', 'waiting_input')`,
      [worker.task_id, JSON.stringify(result)],
    );
    // A message that came too late for the session is not dropped: the task goes on with it.
    await followUpUndelivered(tx, worker.task_id);
    // Tasks that depended on this one may now be claimable.
    return;
  }
  if (worker.status === 'cancelled') {
    await tx.query(
      `UPDATE tasks SET status = 'cancelled', exit_cause = 'cancelled', error = $2, finished_at = now(), updated_at = now()
        WHERE id = $1 AND status IN ('assigned', 'running', 'waiting_input')`,
      [worker.task_id, worker.error],
    );
    return;
  }
  const cause = worker.exit_cause ?? 'error';
  const retry = retryableCauses.has(cause);
  await tx.query(
    `UPDATE tasks SET
       status = CASE WHEN $3::boolean AND attempts < max_attempts THEN 'pending' ELSE 'failed' END,
       error = $2, exit_cause = $4, updated_at = now(),
       finished_at = CASE WHEN $3::boolean AND attempts < max_attempts THEN NULL ELSE now() END,
       not_before = CASE WHEN $4 = 'shutdown' THEN NULL
                    ELSE now() + make_interval(secs => LEAST($5::int, 5 * power(2, GREATEST(attempts - 1, 0))::int)) END,
       cooldown_agent_id = $6, cooldown_until = now() + make_interval(secs => $7)
     WHERE id = $1 AND status IN ('assigned', 'running', 'waiting_input')`,
    [worker.task_id, worker.error, retry, cause, maxBackoffSeconds, worker.agent_id, cooldownSeconds],
  );
}

/**
 * A run that waited too long for an answer gave its slot back (its conversation is a `conversation`
 * artifact). The attempt does not count against max_attempts. The task stays `waiting_input`, or, when the
 * answer came in just before the parking report (the worker was running again), becomes pending with
 * that answer to resume with.
 */
async function parkTask(tx: Queryable, taskId: string): Promise<void> {
  await tx.query('SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE', [taskId]);
  await tx.query(
    `UPDATE tasks SET attempts = GREATEST(attempts - 1, 0), updated_at = now(), not_before = NULL,
            status = CASE WHEN status = 'waiting_input' THEN 'waiting_input' ELSE 'pending' END,
            resume_input = CASE WHEN status = 'waiting_input' THEN resume_input ELSE
              (SELECT jsonb_build_object('kind', 'answer', 'text', q.answer) FROM questions q
                WHERE q.task_id = $1 AND q.answer IS NOT NULL ORDER BY q.asked_at DESC LIMIT 1) END
      WHERE id = $1 AND status IN ('assigned', 'running', 'waiting_input')`,
    [taskId],
  );
}

import type { AbortReason, PatchWorkerBody, WorkerStatus } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { AccountRow, WorkerRow } from '../db/rows.ts';
import { ApiError, notFound } from '../errors.ts';
import { finishTask } from './finish-task.ts';

export type UpdateResult =
  | { abort: false; worker: WorkerRow }
  | { abort: true; reason: AbortReason; worker: WorkerRow; live: boolean };

type FinalStatus = Extract<WorkerStatus, 'completed' | 'failed' | 'cancelled'>;

/** The status an agent asks for, with the older agents' `error` spelling folded in. */
function requestedStatus(body: PatchWorkerBody): 'running' | FinalStatus | undefined {
  switch (body.status) {
    case undefined:
    case 'claimed':
      return undefined;
    case 'running':
    case 'completed':
    case 'failed':
    case 'cancelled':
      return body.status;
    case 'error':
      return 'failed';
    case 'lost':
      throw new ApiError(
        'validation_failed',
        'An agent cannot mark its own worker lost; report failed instead.',
      );
  }
}

const abortReasonOf = (status: WorkerStatus): AbortReason =>
  status === 'lost' ? 'lease_lost' : status === 'cancelled' ? 'cancelled' : 'finished';

/**
 * Applies one progress or completion PATCH from the worker's holder (DESIGN §3): totals are cumulative and
 * only grow, so a retried PATCH changes nothing; every PATCH renews the lease; the increase in cost and
 * tokens is added to the account's day. The worker row is locked so two PATCHes of one worker serialize.
 */
export async function updateWorker(
  tx: Queryable,
  account: AccountRow,
  workerId: string,
  body: PatchWorkerBody,
  leaseSeconds: number,
): Promise<UpdateResult> {
  const status = requestedStatus(body);
  const current = (
    await tx.query<WorkerRow & { task_status: string }>(
      `SELECT w.*, t.status AS task_status FROM workers w JOIN tasks t ON t.id = w.task_id
        WHERE w.id = $1 AND w.account_id = $2 FOR UPDATE OF w`,
      [workerId, account.id],
    )
  )[0];
  if (!current) throw notFound('worker', workerId);
  if (current.status !== 'claimed' && current.status !== 'running') {
    return { abort: true, reason: abortReasonOf(current.status), worker: current, live: false };
  }

  const final = status === 'completed' || status === 'failed' || status === 'cancelled';
  const costDelta = Math.max(0, (body.costUsd ?? current.cost_usd) - current.cost_usd);
  const inDelta = Math.max(0, (body.inputTokens ?? current.input_tokens) - current.input_tokens);
  const outDelta = Math.max(0, (body.outputTokens ?? current.output_tokens) - current.output_tokens);
  const summary = body.summary ?? body.result;
  const worker = (
    await tx.query<WorkerRow>(
      `UPDATE workers SET
         status = COALESCE($2, CASE WHEN status = 'claimed' AND $3::boolean THEN 'running' ELSE status END),
         started_at = CASE WHEN started_at IS NULL AND ($2 IS NOT NULL OR $3::boolean) THEN now() ELSE started_at END,
         finished_at = CASE WHEN $4::boolean THEN now() ELSE finished_at END,
         lease_expires_at = now() + make_interval(secs => $5),
         current_action = CASE WHEN $6::boolean THEN $7 ELSE current_action END,
         turns = GREATEST(turns, COALESCE($8, turns)),
         input_tokens = GREATEST(input_tokens, COALESCE($9, input_tokens)),
         output_tokens = GREATEST(output_tokens, COALESCE($10, output_tokens)),
         cache_read_tokens = GREATEST(cache_read_tokens, COALESCE($11, cache_read_tokens)),
         cost_usd = GREATEST(cost_usd, COALESCE($12, cost_usd)),
         summary = COALESCE($13, summary), error = COALESCE($14, error), exit_cause = COALESCE($15, exit_cause),
         branch = COALESCE($16, branch), commit_sha = COALESCE($17, commit_sha),
         files_changed = COALESCE($18, files_changed), lines_added = COALESCE($19, lines_added),
         lines_removed = COALESCE($20, lines_removed), pr_url = COALESCE($21, pr_url)
       WHERE id = $1 RETURNING *`,
      [
        workerId,
        final ? status : null,
        status === 'running',
        final,
        leaseSeconds,
        body.currentAction !== undefined,
        body.currentAction ?? null,
        body.turns ?? null,
        body.inputTokens ?? null,
        body.outputTokens ?? null,
        body.cacheReadTokens ?? null,
        body.costUsd ?? null,
        summary ?? null,
        body.error ?? null,
        body.exitCause ?? (status === 'completed' ? 'completed' : null),
        body.branch ?? null,
        body.commitSha ?? null,
        body.filesChanged ?? null,
        body.linesAdded ?? null,
        body.linesRemoved ?? null,
        body.prUrl ?? null,
      ],
    )
  )[0]!;

  if (costDelta > 0 || inDelta > 0 || outDelta > 0) {
    await tx.query(
      `INSERT INTO usage_days (account_id, day, cost_usd, input_tokens, output_tokens)
       VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2, $3, $4)
       ON CONFLICT (account_id, day) DO UPDATE SET cost_usd = usage_days.cost_usd + $2,
         input_tokens = usage_days.input_tokens + $3, output_tokens = usage_days.output_tokens + $4`,
      [account.id, costDelta, inDelta, outDelta],
    );
  }

  if (final) {
    await finishTask(tx, worker);
    return { abort: false, worker };
  }
  if (status === 'running' || current.status === 'claimed') {
    await tx.query(
      `UPDATE tasks SET status = 'running', updated_at = now() WHERE id = $1 AND status = 'assigned'`,
      [worker.task_id],
    );
  }
  if (current.task_status === 'cancelled') return { abort: true, reason: 'cancelled', worker, live: true };
  if (worker.auth_type === 'api' && account.max_cost_per_day_usd !== null && costDelta > 0) {
    const today = await tx.query<{ cost_usd: number }>(
      `SELECT cost_usd FROM usage_days WHERE account_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date`,
      [account.id],
    );
    if ((today[0]?.cost_usd ?? 0) >= account.max_cost_per_day_usd) {
      return { abort: true, reason: 'cost_limit', worker, live: true };
    }
  }
  return { abort: false, worker };
}

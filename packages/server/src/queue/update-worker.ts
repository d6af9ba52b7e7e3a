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
export function requestedStatus(body: PatchWorkerBody): 'running' | FinalStatus | undefined {
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

/** Whether a PATCH ends the run (and so needs a transaction to move the task too). */
export const isFinalPatch = (body: PatchWorkerBody) => {
  const s = requestedStatus(body);
  return s === 'completed' || s === 'failed' || s === 'cancelled';
};

const abortReasonOf = (status: WorkerStatus): AbortReason =>
  status === 'lost' ? 'lease_lost' : status === 'cancelled' ? 'cancelled' : 'finished';

interface Applied {
  worker: WorkerRow | null;
  previous: WorkerRow;
  task_status: string;
  day_cost: number | null;
}

/**
 * Applies one progress or completion PATCH from the worker's holder (DESIGN §3) in ONE statement, so the
 * frequent progress PATCH needs no transaction of its own: the worker row is locked (two PATCHes of one
 * worker serialize), the update is guarded on the worker still being live, totals only grow (a retried
 * PATCH changes nothing), the lease is renewed, the increase in cost and tokens goes to the account's UTC
 * day, and an assigned task becomes running. A final PATCH must run inside a transaction: the task moves
 * too (`finishTask`).
 */
export async function updateWorker(
  q: Queryable,
  account: AccountRow,
  workerId: string,
  body: PatchWorkerBody,
  leaseSeconds: number,
): Promise<UpdateResult> {
  const status = requestedStatus(body);
  const final = status === 'completed' || status === 'failed' || status === 'cancelled';
  const applied = (
    await q.query<Applied>(
      `WITH cur AS (
         SELECT w.*, t.status AS task_status FROM workers w JOIN tasks t ON t.id = w.task_id
          WHERE w.id = $1 AND w.account_id = $22 FOR UPDATE OF w),
       upd AS (
         UPDATE workers w SET
           status = COALESCE($2, CASE WHEN w.status = 'claimed' AND $3::boolean THEN 'running' ELSE w.status END),
           started_at = CASE WHEN w.started_at IS NULL AND ($2 IS NOT NULL OR $3::boolean) THEN now() ELSE w.started_at END,
           finished_at = CASE WHEN $4::boolean THEN now() ELSE w.finished_at END,
           lease_expires_at = now() + make_interval(secs => $5),
           current_action = CASE WHEN $6::boolean THEN $7 ELSE w.current_action END,
           turns = GREATEST(w.turns, COALESCE($8, w.turns)),
           input_tokens = GREATEST(w.input_tokens, COALESCE($9, w.input_tokens)),
           output_tokens = GREATEST(w.output_tokens, COALESCE($10, w.output_tokens)),
           cache_read_tokens = GREATEST(w.cache_read_tokens, COALESCE($11, w.cache_read_tokens)),
           cost_usd = GREATEST(w.cost_usd, COALESCE($12, w.cost_usd)),
           summary = COALESCE($13, w.summary), error = COALESCE($14, w.error), exit_cause = COALESCE($15, w.exit_cause),
           branch = COALESCE($16, w.branch), commit_sha = COALESCE($17, w.commit_sha),
           files_changed = COALESCE($18, w.files_changed), lines_added = COALESCE($19, w.lines_added),
           lines_removed = COALESCE($20, w.lines_removed), pr_url = COALESCE($21, w.pr_url)
           FROM cur WHERE w.id = cur.id AND cur.status IN ('claimed', 'running')
         RETURNING w.*),
       usage AS (
         INSERT INTO usage_days (account_id, day, cost_usd, input_tokens, output_tokens)
         SELECT $22, (now() AT TIME ZONE 'UTC')::date, upd.cost_usd - cur.cost_usd,
                upd.input_tokens - cur.input_tokens, upd.output_tokens - cur.output_tokens
           FROM upd JOIN cur ON cur.id = upd.id
          WHERE upd.cost_usd > cur.cost_usd OR upd.input_tokens > cur.input_tokens OR upd.output_tokens > cur.output_tokens
         ON CONFLICT (account_id, day) DO UPDATE SET cost_usd = usage_days.cost_usd + EXCLUDED.cost_usd,
           input_tokens = usage_days.input_tokens + EXCLUDED.input_tokens,
           output_tokens = usage_days.output_tokens + EXCLUDED.output_tokens
         RETURNING cost_usd),
       started AS (
         UPDATE tasks t SET status = 'running', updated_at = now()
           FROM upd WHERE t.id = upd.task_id AND t.status = 'assigned' RETURNING t.id)
       SELECT to_jsonb(upd) AS worker, to_jsonb(cur) - 'task_status' AS previous, cur.task_status,
              (SELECT cost_usd FROM usage) AS day_cost, (SELECT count(*) FROM started) AS started
         FROM cur LEFT JOIN upd ON upd.id = cur.id`,
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
        body.summary ?? body.result ?? null,
        body.error ?? null,
        body.exitCause ?? (status === 'completed' ? 'completed' : null),
        body.branch ?? null,
        body.commitSha ?? null,
        body.filesChanged ?? null,
        body.linesAdded ?? null,
        body.linesRemoved ?? null,
        body.prUrl ?? null,
        account.id,
      ],
    )
  )[0];
  if (!applied) throw notFound('worker', workerId);
  const worker = applied.worker;
  if (!worker) {
    return {
      abort: true,
      reason: abortReasonOf(applied.previous.status),
      worker: applied.previous,
      live: false,
    };
  }
  if (final) {
    await finishTask(q, worker);
    return { abort: false, worker };
  }
  if (applied.task_status === 'cancelled') return { abort: true, reason: 'cancelled', worker, live: true };
  const cap = account.max_cost_per_day_usd;
  if (worker.auth_type === 'api' && cap !== null && applied.day_cost !== null && applied.day_cost >= cap) {
    return { abort: true, reason: 'cost_limit', worker, live: true };
  }
  return { abort: false, worker };
}

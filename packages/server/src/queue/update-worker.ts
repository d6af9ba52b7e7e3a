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

const isFinal = (s: ReturnType<typeof requestedStatus>): s is FinalStatus =>
  s === 'completed' || s === 'failed' || s === 'cancelled';

/** Whether a PATCH ends the run (and so needs a transaction to move the task too). */
export const isFinalPatch = (body: PatchWorkerBody) => isFinal(requestedStatus(body));

const abortReasonOf = (status: WorkerStatus): AbortReason =>
  status === 'lost' ? 'lease_lost' : status === 'cancelled' ? 'cancelled' : 'finished';

interface Applied {
  worker: WorkerRow | null;
  previous: WorkerRow;
  task_status: string;
  day_cost: number | null;
}

/**
 * Applies one progress or completion PATCH from the worker's holder (DESIGN §3) in ONE statement (the
 * `buildd_update_worker` function of migration 003, which keeps its plan), so the
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
  const final = isFinal(status);
  const applied = (
    await q.query<Applied>(
      'SELECT * FROM buildd_update_worker($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)',
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

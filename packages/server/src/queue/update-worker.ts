import {
  type AbortReason,
  type FinalStatus,
  isFinalStatus,
  type PatchWorkerBody,
  type WorkerStatus,
  workerReportFields,
} from '@buildd/protocol';
import type { Caller } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import type { WorkerRow } from '../db/rows.ts';
import { ApiError, notFound } from '../errors.ts';
import { columnOf, finishTask } from './finish-task.ts';

export type UpdateResult =
  | { abort: false; worker: WorkerRow }
  | { abort: true; reason: AbortReason; worker: WorkerRow; live: boolean };

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
    case 'waiting_input':
      throw new ApiError(
        'validation_failed',
        'A worker waits for input by asking its question (POST /api/workers/:id/question), not by PATCH.',
      );
    case 'lost':
      throw new ApiError(
        'validation_failed',
        'An agent cannot mark its own worker lost; report failed instead.',
      );
  }
}

/** Whether a PATCH ends the run (and so needs a transaction to move the task too). */
export const isFinalPatch = (body: PatchWorkerBody) => isFinalStatus(requestedStatus(body));

/** The exit cause a final report implies when it names none (older agents never do). */
const impliedExitCause = { completed: 'completed', failed: 'error', cancelled: 'cancelled' } as const;

/**
 * The reported fields present in the PATCH, keyed by worker column: the protocol's list of report fields
 * drives it, so a new field needs no change here.
 */
function reportOf(
  body: PatchWorkerBody,
  status: ReturnType<typeof requestedStatus>,
): Record<string, unknown> {
  const report: Record<string, unknown> = {};
  for (const field of workerReportFields) {
    if (body[field] !== undefined) report[columnOf(field)] = body[field];
  }
  report.summary ??= body.result ?? undefined;
  if (isFinalStatus(status)) report.exit_cause ??= impliedExitCause[status];
  return report;
}

const abortReasonOf = (status: WorkerStatus): AbortReason =>
  status === 'lost' ? 'lease_lost' : status === 'cancelled' ? 'cancelled' : 'finished';

interface Applied {
  worker: WorkerRow | null;
  previous: WorkerRow;
  task_status: string;
  day_cost: number | null;
}

/**
 * Applies one progress or completion PATCH from the worker's holder in ONE statement (the
 * `buildd_update_worker` function of `update-worker.sql` beside this file, which keeps its plan), so the
 * frequent progress PATCH needs no transaction of its own: the worker row is locked (two PATCHes of one
 * worker serialize), the update is guarded on the worker still being live, totals only grow (a retried
 * PATCH changes nothing), the lease is renewed, the increase in cost and tokens goes to the account's UTC
 * day, and an assigned task becomes running. A final PATCH must run inside a transaction: the task moves
 * too (`finishTask`).
 */
export async function updateWorker(
  q: Queryable,
  caller: Pick<Caller, 'id' | 'maxCostPerDayUsd'>,
  workerId: string,
  body: PatchWorkerBody,
  leaseSeconds: number,
): Promise<UpdateResult> {
  const status = requestedStatus(body);
  const applied = (
    await q.query<Applied>(
      `SELECT * FROM buildd_update_worker(p_worker => $1, p_account => $2, p_status => $3,
         p_lease_seconds => $4, p_report => $5::jsonb)`,
      [workerId, caller.id, status ?? null, leaseSeconds, JSON.stringify(reportOf(body, status))],
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
  if (isFinalStatus(status)) {
    await finishTask(q, worker);
    return { abort: false, worker };
  }
  if (applied.task_status === 'cancelled') return { abort: true, reason: 'cancelled', worker, live: true };
  // OAuth seats cost nothing per token; API billing and older agents (no auth type) count against the cap.
  const cap = caller.maxCostPerDayUsd;
  if (worker.auth_type !== 'oauth' && cap !== null && applied.day_cost !== null && applied.day_cost >= cap) {
    return { abort: true, reason: 'cost_limit', worker, live: true };
  }
  return { abort: false, worker };
}

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
import { notHolder } from '../store/workers.ts';
import { columnOf, finishPolicy } from './finish-task.ts';

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

/** `worker` is the row after the PATCH, or null when it changed nothing; then `previous` is the row as it is. */
type Applied = {
  task_status: string;
  day_cost: number | null;
  holder: string;
} & ({ worker: WorkerRow; previous: null } | { worker: null; previous: WorkerRow });

/**
 * Applies one progress or completion PATCH from the worker's holder in ONE statement, its own transaction
 * (the `buildd_update_worker` function of `update-worker.sql` beside this file, which keeps its plan): the
 * worker row is locked (two PATCHes of one worker serialize), a writer that names another agent of the
 * account changes nothing (403), the update is guarded on the worker still being live, totals only grow (a
 * retried PATCH changes nothing), the lease is renewed, the increase in cost and tokens goes to the
 * account's UTC day, an assigned task becomes running, and a final report moves the task too
 * (`finishPolicy`). The caller publishes the change-log hint after it (src/queue/hints.sql).
 */
export async function updateWorker(
  q: Queryable,
  caller: Pick<Caller, 'id' | 'maxCostPerDayUsd'>,
  workerId: string,
  agentId: string | undefined,
  body: PatchWorkerBody,
  leaseSeconds: number,
): Promise<UpdateResult> {
  const status = requestedStatus(body);
  const applied = (
    await q.query<Applied>(
      `SELECT * FROM buildd_update_worker(p_worker => $1, p_account => $2, p_agent => $3, p_status => $4,
         p_lease_seconds => $5, p_report => $6::jsonb, p_finish => $7::jsonb)`,
      [
        workerId,
        caller.id,
        agentId ?? null,
        status ?? null,
        leaseSeconds,
        JSON.stringify(reportOf(body, status)),
        finishPolicy,
      ],
    )
  )[0];
  if (!applied) throw notFound('worker', workerId);
  if (agentId !== undefined && agentId !== applied.holder) throw notHolder();
  if (!applied.worker) {
    return {
      abort: true,
      reason: abortReasonOf(applied.previous.status),
      worker: applied.previous,
      live: false,
    };
  }
  const worker = applied.worker;
  if (isFinalStatus(status)) return { abort: false, worker };
  if (applied.task_status === 'cancelled') return { abort: true, reason: 'cancelled', worker, live: true };
  // OAuth seats cost nothing per token; API billing and older agents (no auth type) count against the cap.
  const cap = caller.maxCostPerDayUsd;
  if (worker.auth_type !== 'oauth' && cap !== null && applied.day_cost !== null && applied.day_cost >= cap) {
    return { abort: true, reason: 'cost_limit', worker, live: true };
  }
  return { abort: false, worker };
}

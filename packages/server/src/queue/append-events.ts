import type { WorkerEventInput } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import { ApiError, notFound } from '../errors.ts';
import { notHolder } from '../store/workers.ts';
import type { EventLimits } from './event-limits.ts';

interface Appended {
  outcome: 'stored' | 'not_holder' | 'ended';
  task_id: string;
  stored: number;
  last_seq: number;
}

/**
 * Stores a batch of progress events in ONE statement, its own transaction (`buildd_append_events` in
 * append-events.sql beside this file). `seq` comes from the agent, so a batch replayed after a timeout or a
 * restart inserts nothing twice (ON CONFLICT DO NOTHING) and a gap in seq stays visible. Only the worker's
 * account may write (404 otherwise), and only its holder agent when the writer names one (403). Events of a
 * worker that has finished are still kept for `lateSeconds` (they arrive late from the agent's spool),
 * refused after that. A batch that would take the worker past its cap on count or bytes is refused whole
 * (413), so nothing below the cap is ever dropped. The caller publishes the task's hint after it.
 */
export async function appendEvents(
  db: Queryable,
  holder: { accountId: string; workerId: string; agentId: string | undefined },
  events: Required<Pick<WorkerEventInput, 'seq' | 'type' | 'at'>>[] & { data?: unknown }[],
  limits: EventLimits,
): Promise<{ stored: number; lastSeq: number; taskId: string }> {
  let row: Appended | undefined;
  try {
    [row] = await db.query<Appended>(
      `SELECT * FROM buildd_append_events(p_worker => $1, p_account => $2, p_agent => $3, p_events => $4::jsonb,
         p_late_seconds => $5, p_max_events => $6, p_max_bytes => $7)`,
      [
        holder.workerId,
        holder.accountId,
        holder.agentId ?? null,
        JSON.stringify(events),
        limits.lateSeconds,
        limits.maxEvents,
        limits.maxBytes,
      ],
    );
  } catch (err) {
    if ((err as { code?: string }).code === 'BD413')
      throw capError((err as { detail: string }).detail, limits);
    throw err;
  }
  if (!row) throw notFound('worker', holder.workerId);
  if (row.outcome === 'not_holder') throw notHolder();
  if (row.outcome === 'ended') {
    throw new ApiError(
      'worker_not_live',
      `This worker ended more than ${limits.lateSeconds} s ago; its events are no longer taken.`,
    );
  }
  return { stored: row.stored, lastSeq: row.last_seq, taskId: row.task_id };
}

/** The 413 for a batch past a cap, from what the function found (its error's detail). */
function capError(detail: string, limits: EventLimits): ApiError {
  const d = JSON.parse(detail) as { byCount: boolean; count: number; bytes: number; newBytes: number };
  return new ApiError(
    'payload_too_large',
    d.byCount
      ? `This worker has stored ${d.count} events; at most ${limits.maxEvents} are kept per worker, so this batch was refused.`
      : `This worker's events would take ${d.newBytes} bytes; at most ${limits.maxBytes} are kept per worker, so this batch was refused.`,
    d.byCount ? { limit: limits.maxEvents, current: d.count } : { limit: limits.maxBytes, current: d.bytes },
  );
}

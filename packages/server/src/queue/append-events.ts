import type { WorkerEventInput } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import { ApiError } from '../errors.ts';
import type { EventLimits } from './event-limits.ts';

/**
 * Stores a batch of progress events. `seq` comes from the agent, so a batch replayed after a timeout or a
 * restart inserts nothing twice (ON CONFLICT DO NOTHING) and a gap in seq stays visible. Events of a worker
 * that has finished are still kept for `lateSeconds` (they arrive late from the agent's spool), refused
 * after that. A batch that would take the worker past its cap on count or bytes is refused whole (413,
 * the transaction rolls back), so nothing below the cap is ever dropped. The caller has checked that the
 * writer is the worker's holder (`assertHolderAgent`).
 */
export async function appendEvents(
  tx: Queryable,
  workerId: string,
  events: Required<Pick<WorkerEventInput, 'seq' | 'type' | 'at'>>[] & { data?: unknown }[],
  limits: EventLimits,
): Promise<{ stored: number; lastSeq: number }> {
  const worker = (
    await tx.query<{ task_id: string; event_count: number; event_bytes: string; ended_long_ago: boolean }>(
      `SELECT task_id, event_count, event_bytes,
              finished_at IS NOT NULL AND finished_at < now() - make_interval(secs => $2) AS ended_long_ago
         FROM workers WHERE id = $1 FOR UPDATE`,
      [workerId, limits.lateSeconds],
    )
  )[0]!;
  if (worker.ended_long_ago) {
    throw new ApiError(
      'worker_not_live',
      `This worker ended more than ${limits.lateSeconds} s ago; its events are no longer taken.`,
    );
  }
  const ordered = [...events].sort((a, b) => a.seq - b.seq);
  const inserted = await tx.query<{ seq: number; bytes: number }>(
    `INSERT INTO worker_events (task_id, worker_id, seq, type, at, data)
     SELECT $1, $2, e.seq, e.type, e.at, COALESCE(e.data, '{}'::jsonb)
       FROM jsonb_to_recordset($3::jsonb) AS e(seq integer, type text, at timestamptz, data jsonb)
     ON CONFLICT (worker_id, seq) DO NOTHING RETURNING seq, octet_length(data::text) AS bytes`,
    [worker.task_id, workerId, JSON.stringify(ordered)],
  );
  const count = worker.event_count + inserted.length;
  const bytes = Number(worker.event_bytes) + inserted.reduce((sum, e) => sum + Number(e.bytes), 0);
  if (count > limits.maxEvents || bytes > limits.maxBytes) {
    const byCount = count > limits.maxEvents;
    throw new ApiError(
      'payload_too_large',
      byCount
        ? `This worker has stored ${worker.event_count} events; at most ${limits.maxEvents} are kept per worker, so this batch was refused.`
        : `This worker's events would take ${bytes} bytes; at most ${limits.maxBytes} are kept per worker, so this batch was refused.`,
      byCount
        ? { limit: limits.maxEvents, current: worker.event_count }
        : { limit: limits.maxBytes, current: Number(worker.event_bytes) },
    );
  }
  const top = (
    await tx.query<{ last_event_seq: number }>(
      `UPDATE workers SET last_event_seq = GREATEST(last_event_seq, $2), event_count = $3, event_bytes = $4
        WHERE id = $1 RETURNING last_event_seq`,
      [workerId, ordered.at(-1)?.seq ?? -1, count, bytes],
    )
  )[0];
  return { stored: inserted.length, lastSeq: top?.last_event_seq ?? -1 };
}

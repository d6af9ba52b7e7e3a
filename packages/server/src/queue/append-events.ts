import type { WorkerEventInput } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import { notFound } from '../errors.ts';

/**
 * Stores a batch of progress events. `seq` comes from the agent, so a batch replayed after a timeout or a
 * restart inserts nothing twice (ON CONFLICT DO NOTHING) and a gap in seq stays visible. Events of a worker
 * that has already finished are still kept: they arrive late from the agent's spool, and they are history.
 */
export async function appendEvents(
  tx: Queryable,
  accountId: string,
  workerId: string,
  events: Required<Pick<WorkerEventInput, 'seq' | 'type' | 'at'>>[] & { data?: unknown }[],
): Promise<{ stored: number; lastSeq: number }> {
  const worker = (
    await tx.query<{ task_id: string }>('SELECT task_id FROM workers WHERE id = $1 AND account_id = $2', [
      workerId,
      accountId,
    ])
  )[0];
  if (!worker) throw notFound('worker', workerId);
  const ordered = [...events].sort((a, b) => a.seq - b.seq);
  const inserted = await tx.query<{ seq: number }>(
    `INSERT INTO worker_events (task_id, worker_id, seq, type, at, data)
     SELECT $1, $2, e.seq, e.type, e.at, COALESCE(e.data, '{}'::jsonb)
       FROM jsonb_to_recordset($3::jsonb) AS e(seq integer, type text, at timestamptz, data jsonb)
     ON CONFLICT (worker_id, seq) DO NOTHING RETURNING seq`,
    [worker.task_id, workerId, JSON.stringify(ordered)],
  );
  const top = (
    await tx.query<{ last_event_seq: number }>(
      `UPDATE workers SET last_event_seq = GREATEST(last_event_seq, $2) WHERE id = $1 RETURNING last_event_seq`,
      [workerId, ordered.at(-1)?.seq ?? -1],
    )
  )[0];
  return { stored: inserted.length, lastSeq: top?.last_event_seq ?? -1 };
}

/**
 * What the server holds of a worker's progress log, checked against what the agent produced: the
 * agent numbers events 1, 2, 3 … in its spool, so the stored seqs of a worker must be exactly
 * 1..lastEventSeq — a hole is an event lost, a repeated seq an event stored twice.
 */
import type { ApiClient } from '../../../../server/test/support/api.ts';

/** One worker's stored events, counted. */
export interface Ledger {
  workerId: string;
  stored: number;
  /** The worker's `lastEventSeq` (the highest seq the server has seen). */
  lastEventSeq: number;
  /** Seqs in 1..lastEventSeq the server does not hold. */
  lost: number;
  /** Rows beyond one per seq. */
  duplicated: number;
  /** Type and data of the event with the highest seq. */
  last: { type: string; data: Record<string, unknown> } | undefined;
}

interface StoredEvent {
  workerId: string;
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

/** Every stored event of a task, all pages. */
export async function taskEvents(api: ApiClient, taskId: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { items: StoredEvent[]; nextCursor: string | null } } = await api.get(
      `/api/tasks/${taskId}/events?limit=500${cursor ? `&after=${cursor}` : ''}`,
    );
    if (page.status !== 200) throw new Error(`events of ${taskId}: ${page.status}`);
    events.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return events;
}

/** Counts the stored events of `workerId` against its `lastEventSeq`. */
export async function ledgerOf(api: ApiClient, taskId: string, workerId: string): Promise<Ledger> {
  const worker = (await api.get(`/api/workers/${workerId}`)).body as { lastEventSeq: number };
  const events = (await taskEvents(api, taskId)).filter((e) => e.workerId === workerId);
  const seqs = new Set(events.map((e) => e.seq));
  let lost = 0;
  for (let seq = 1; seq <= worker.lastEventSeq; seq++) if (!seqs.has(seq)) lost += 1;
  const last = events.reduce<StoredEvent | undefined>(
    (top, e) => (!top || e.seq > top.seq ? e : top),
    undefined,
  );
  return {
    workerId,
    stored: events.length,
    lastEventSeq: worker.lastEventSeq,
    lost,
    duplicated: events.length - seqs.size,
    last: last ? { type: last.type, data: last.data } : undefined,
  };
}

/** Prints one line of figures for the issue note, prefixed so they are easy to grep. */
export function figure(test: string, values: Record<string, unknown>): void {
  const parts = Object.entries(values).map(
    ([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`,
  );
  console.log(`[faults] ${test}: ${parts.join(' ')}`);
}

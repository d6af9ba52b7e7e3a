import type { Queryable } from '../db/index.ts';
import type { WorkerEventRow } from '../db/rows.ts';

/** A position in the change log: the writing transaction and the row (migrations/008_change_log.sql). */
export interface ChangePosition {
  tx: string;
  id: string;
}

export interface ChangeRow extends ChangePosition {
  kind: 'task' | 'agent';
  workspace_id: string | null;
  account_id: string | null;
  data: Record<string, unknown>;
}

/**
 * Rows after `after` whose transactions are older than every transaction still running, so no row can commit
 * later at a position before the last one returned. `pending` says rows exist beyond that horizon (the
 * reader looks again shortly rather than waiting for the next hint).
 */
export async function changesAfter(
  db: Queryable,
  after: ChangePosition,
  limit: number,
): Promise<{ rows: ChangeRow[]; pending: boolean }> {
  const rows = await db.query<ChangeRow & { safe: boolean }>(
    `SELECT c.tx::text AS tx, c.id::text AS id, c.kind, c.workspace_id, c.account_id, c.data,
            c.tx < pg_snapshot_xmin(pg_current_snapshot()) AS safe
       FROM changes c WHERE (c.tx, c.id) > ($1::xid8, $2::bigint)
      ORDER BY c.tx, c.id LIMIT $3`,
    [after.tx, after.id, limit],
  );
  const firstUnsafe = rows.findIndex((r) => !r.safe);
  const safe = firstUnsafe < 0 ? rows : rows.slice(0, firstUnsafe);
  return { rows: safe.map(({ safe: _, ...r }) => r), pending: firstUnsafe >= 0 };
}

/** The newest safe position (a reader starting now begins after it); the origin for an empty log. */
export async function changeHead(db: Queryable): Promise<ChangePosition> {
  const rows = await db.query<ChangePosition>(
    // Ordered by the columns (c.), not by the text the output names: that would sort every row.
    `SELECT c.tx::text AS tx, c.id::text AS id FROM changes c
      WHERE c.tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY c.tx DESC, c.id DESC LIMIT 1`,
  );
  return rows[0] ?? { tx: '0', id: '0' };
}

/**
 * Forgets change rows older than the retention; a client resuming from before that starts at the oldest.
 * The log's only index is its position, which follows time (a row's `created_at` is its transaction's
 * start, its `tx` the id that transaction got): everything before the first row young enough to keep goes,
 * a range of that index. Only a log with nothing young enough (an idle server) is deleted by age.
 */
export async function pruneChanges(db: Queryable, keepSeconds: number): Promise<number> {
  const kept = await db.query<ChangePosition>(
    `SELECT c.tx::text AS tx, c.id::text AS id FROM changes c
      WHERE c.created_at >= now() - make_interval(secs => $1) ORDER BY c.tx, c.id LIMIT 1`,
    [keepSeconds],
  );
  const first = kept[0];
  const rows = first
    ? await db.query('DELETE FROM changes WHERE (tx, id) < ($1::xid8, $2::bigint) RETURNING 1', [
        first.tx,
        first.id,
      ])
    : await db.query('DELETE FROM changes WHERE created_at < now() - make_interval(secs => $1) RETURNING 1', [
        keepSeconds,
      ]);
  return rows.length;
}

/** Several tasks' progress events, each after its own position, in one query (the shared reader's wake-up). */
export async function eventsOfTasks(
  db: Queryable,
  cursors: Array<{ taskId: string; after: number }>,
  limitPerTask: number,
): Promise<WorkerEventRow[]> {
  return db.query<WorkerEventRow & { task_id: string }>(
    `SELECT e.id, e.task_id, e.worker_id, e.seq, e.type, e.at, e.data
       FROM unnest($1::text[], $2::bigint[]) AS c(task_id, after)
       CROSS JOIN LATERAL (SELECT * FROM worker_events w WHERE w.task_id = c.task_id AND w.id > c.after
                            ORDER BY w.id LIMIT $3) e
      ORDER BY e.id`,
    [cursors.map((c) => c.taskId), cursors.map((c) => c.after), limitPerTask],
  );
}

import type { Queryable } from '../db/index.ts';

/**
 * Whether a pending task's backoff ended within the last `withinSeconds`. Nothing is written when a backoff
 * ends, so nothing notifies: the reaper's round asks this and hints, so that idle agents need not wake on a
 * timer to find such tasks (pending tasks only, through their partial index).
 */
export async function tasksBecameDue(db: Queryable, withinSeconds: number): Promise<boolean> {
  const rows = await db.query<{ due: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM tasks
        WHERE status = 'pending' AND not_before <= now() AND not_before > now() - make_interval(secs => $1)
     ) AS due`,
    [withinSeconds],
  );
  return rows[0]?.due === true;
}

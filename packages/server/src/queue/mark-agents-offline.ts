import type { Queryable } from '../db/index.ts';

/**
 * Marks agents silent for longer than `offlineSeconds` offline (the change-log trigger tells the feeds). Run
 * with each reaper round; a claim or a channel from the agent marks it online again (store/agents.ts).
 * Harmless when two replicas run it together: the second finds nothing left to change.
 */
export async function markSilentAgentsOffline(db: Queryable, offlineSeconds: number): Promise<number> {
  const rows = await db.query(
    `UPDATE agents SET online = false
      WHERE online AND last_seen_at < now() - make_interval(secs => $1) RETURNING 1`,
    [offlineSeconds],
  );
  return rows.length;
}

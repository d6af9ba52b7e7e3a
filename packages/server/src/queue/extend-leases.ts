import type { Queryable } from '../db/index.ts';

/**
 * Gives every live worker one more lease (its own length: older agents' workers keep their longer one). Run
 * at start: leases that ran out while no server was answering are not the agents' fault, so each agent
 * gets the time to come back before the reaper may take its task away.
 */
export async function extendLiveLeases(db: Queryable, defaultLeaseSeconds: number): Promise<void> {
  await db.query(
    `UPDATE workers
        SET lease_expires_at = GREATEST(lease_expires_at,
                                        now() + make_interval(secs => COALESCE(lease_seconds, $1)))
      WHERE status IN ('claimed', 'running', 'waiting_input')`,
    [defaultLeaseSeconds],
  );
}

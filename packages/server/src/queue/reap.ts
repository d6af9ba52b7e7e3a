import type { Db } from '../db/index.ts';

/** Any constant works; every replica uses the same one so only one reaps at a time. */
export const reaperLockKey = 4_2424_2424;

/**
 * Turns workers whose lease ran out into `lost` and gives their tasks back: `pending` while attempts
 * remain, `failed` (exit cause `lost`) when they are used up. Lease math uses only the database clock.
 * Runs under a transaction-scoped advisory lock taken with try: a replica that finds it held skips the round.
 */
export async function reapExpiredWorkers(
  db: Db,
): Promise<{ lost: number; requeued: number; failed: number }> {
  return db.transaction(async (tx) => {
    const got = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
      reaperLockKey,
    ]);
    if (!got[0]?.ok) return { lost: 0, requeued: 0, failed: 0 };
    const lost = await tx.query<{ id: string; task_id: string }>(
      `UPDATE workers SET status = 'lost', exit_cause = 'lost', finished_at = now(),
              error = COALESCE(error, 'The agent stopped renewing its lease (it died, hung or lost the network).')
        WHERE status IN ('claimed', 'running', 'waiting_input') AND lease_expires_at < now()
        RETURNING id, task_id`,
    );
    if (lost.length === 0) return { lost: 0, requeued: 0, failed: 0 };
    const tasks = await tx.query<{ status: string }>(
      `UPDATE tasks SET
         status = CASE WHEN attempts < max_attempts THEN 'pending' ELSE 'failed' END,
         exit_cause = 'lost',
         error = 'The agent running it stopped renewing its lease.',
         finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END,
         updated_at = now()
       WHERE id = ANY($1::text[]) AND status IN ('assigned', 'running', 'waiting_input')
       RETURNING status`,
      [lost.map((w) => w.task_id)],
    );
    return {
      lost: lost.length,
      requeued: tasks.filter((t) => t.status === 'pending').length,
      failed: tasks.filter((t) => t.status === 'failed').length,
    };
  });
}

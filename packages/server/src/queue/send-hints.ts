import type { Queryable } from '../db/index.ts';

/**
 * Sends NOTIFY hints, several in one statement, in a transaction that does not wait for the disk
 * (`buildd_send_hints` in hints.sql beside this file says why).
 */
export async function sendHints(
  db: Queryable,
  hints: ReadonlyArray<{ channel: string; payload: string }>,
): Promise<void> {
  await db.query('SELECT buildd_send_hints($1::text[], $2::text[])', [
    hints.map((h) => h.channel),
    hints.map((h) => h.payload),
  ]);
}

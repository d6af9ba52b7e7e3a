import type { Queryable } from '../db/index.ts';

export interface DueDelivery {
  id: string;
  type: string;
  attempts: number;
  task: Record<string, unknown> | null;
  created_at: Date | string;
  url: string;
  secret: string;
}

/**
 * Takes up to `limit` deliveries that are due, for this replica: FOR UPDATE SKIP LOCKED so replicas never
 * take the same row, and a lease (`locked_until`) so the send itself runs outside any transaction; a replica
 * that dies mid-send leaves the row to be taken again when the lease ends. Counts the attempt.
 */
export async function takeDueDeliveries(
  db: Queryable,
  limit: number,
  leaseSeconds: number,
): Promise<DueDelivery[]> {
  return db.query<DueDelivery>(
    `WITH due AS (
       SELECT d.id FROM webhook_deliveries d
        WHERE d.status = 'pending' AND d.next_attempt_at <= now()
          AND (d.locked_until IS NULL OR d.locked_until < now())
        ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED),
     taken AS (
       UPDATE webhook_deliveries d SET locked_until = now() + make_interval(secs => $2), attempts = d.attempts + 1
         FROM due WHERE d.id = due.id RETURNING d.*)
     SELECT t.id, t.type, t.attempts, t.task, t.created_at, h.url, h.secret
       FROM taken t JOIN webhooks h ON h.id = t.webhook_id`,
    [limit, leaseSeconds],
  );
}

/**
 * Records one attempt and moves the delivery: delivered on a 2xx; otherwise tried again after `retryMs`, or
 * failed once it has been trying for longer than `giveUpSeconds`.
 */
export async function recordAttempt(
  db: Queryable,
  d: Pick<DueDelivery, 'id' | 'attempts'>,
  outcome: { statusCode: number | null; error: string | null; durationMs: number },
  retryMs: number,
  giveUpSeconds: number,
): Promise<void> {
  const ok = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
  await db.query(
    `WITH logged AS (
       INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING)
     UPDATE webhook_deliveries SET locked_until = NULL,
            status = CASE WHEN $6::boolean THEN 'delivered'
                          WHEN created_at < now() - make_interval(secs => $8) THEN 'failed' ELSE 'pending' END,
            delivered_at = CASE WHEN $6::boolean THEN now() END,
            next_attempt_at = now() + make_interval(secs => $7::double precision / 1000)
      WHERE id = $1`,
    [d.id, d.attempts, outcome.statusCode, outcome.error, outcome.durationMs, ok, retryMs, giveUpSeconds],
  );
}

/** A `ping` delivery for the test call. */
export async function enqueueTestDelivery(db: Queryable, webhookId: string, id: string): Promise<void> {
  await db.query(
    `INSERT INTO webhook_deliveries (id, webhook_id, type, task) VALUES ($1, $2, 'ping', NULL)`,
    [id, webhookId],
  );
}

import type { CreateWebhookBody, Webhook, WebhookDelivery, WebhookEventType } from '@buildd/protocol';
import { WebhookEventType as EventTypes } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import { notFound } from '../errors.ts';

interface WebhookRow {
  id: string;
  workspace_id: string;
  url: string;
  events: WebhookEventType[];
  created_at: Date | string;
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

const toWebhook = (r: WebhookRow): Webhook => ({
  id: r.id,
  workspaceId: r.workspace_id,
  url: r.url,
  events: r.events,
  createdAt: iso(r.created_at)!,
});

/** Adds a webhook to a workspace (the secret is stored to sign with, and never read back out). */
export async function insertWebhook(
  db: Queryable,
  id: string,
  workspaceId: string,
  body: CreateWebhookBody,
  createdBy: string,
): Promise<Webhook> {
  const rows = await db.query<WebhookRow>(
    `INSERT INTO webhooks (id, workspace_id, url, secret, events, created_by) VALUES ($1, $2, $3, $4, $5::text[], $6)
     RETURNING id, workspace_id, url, events, created_at`,
    [id, workspaceId, body.url, body.secret, [...new Set(body.events ?? EventTypes.options)], createdBy],
  );
  return toWebhook(rows[0]!);
}

export async function listWebhooks(db: Queryable, workspaceId: string): Promise<Webhook[]> {
  const rows = await db.query<WebhookRow>(
    `SELECT id, workspace_id, url, events, created_at FROM webhooks
      WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`,
    [workspaceId],
  );
  return rows.map(toWebhook);
}

/** A webhook that has not been deleted; 404 otherwise. */
export async function findWebhook(db: Queryable, id: string): Promise<Webhook> {
  const rows = await db.query<WebhookRow>(
    'SELECT id, workspace_id, url, events, created_at FROM webhooks WHERE id = $1 AND deleted_at IS NULL',
    [id],
  );
  if (!rows[0]) throw notFound('webhook', id);
  return toWebhook(rows[0]);
}

/** Deletes a webhook: nothing more is sent; its delivery log stays readable by id until it is pruned. */
export async function deleteWebhook(db: Queryable, id: string): Promise<void> {
  const rows = await db.query(
    `UPDATE webhooks SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING 1`,
    [id],
  );
  if (rows.length === 0) throw notFound('webhook', id);
  await db.query(
    `UPDATE webhook_deliveries SET status = 'failed' WHERE webhook_id = $1 AND status = 'pending'`,
    [id],
  );
}

/** The newest deliveries of a webhook with every attempt. */
export async function listDeliveries(
  db: Queryable,
  webhookId: string,
  limit: number,
): Promise<WebhookDelivery[]> {
  const rows = await db.query<{
    id: string;
    webhook_id: string;
    type: string;
    status: WebhookDelivery['status'];
    attempts: number;
    created_at: Date | string;
    next_attempt_at: Date | string;
    delivered_at: Date | string | null;
    log: Array<{
      attempt: number;
      at: string;
      status_code: number | null;
      error: string | null;
      duration_ms: number;
    }>;
  }>(
    `SELECT d.id, d.webhook_id, d.type, d.status, d.attempts, d.created_at, d.next_attempt_at, d.delivered_at,
            COALESCE((SELECT jsonb_agg(to_jsonb(a) ORDER BY a.attempt) FROM webhook_attempts a
                       WHERE a.delivery_id = d.id), '[]'::jsonb) AS log
       FROM webhook_deliveries d WHERE d.webhook_id = $1 ORDER BY d.created_at DESC, d.id LIMIT $2`,
    [webhookId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    webhookId: r.webhook_id,
    type: r.type,
    status: r.status,
    attempts: r.attempts,
    createdAt: iso(r.created_at)!,
    nextAttemptAt: r.status === 'pending' ? iso(r.next_attempt_at) : null,
    deliveredAt: iso(r.delivered_at),
    log: r.log.map((a) => ({
      attempt: a.attempt,
      at: iso(a.at)!,
      statusCode: a.status_code,
      error: a.error,
      durationMs: a.duration_ms,
    })),
  }));
}

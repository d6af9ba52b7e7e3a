import { randomUUID } from 'node:crypto';
import { CreateWebhookBody } from '@buildd/protocol';
import { Hono } from 'hono';
import { ApiError } from '../../errors.ts';
import { literalTargetProblem } from '../../events/webhook-target.ts';
import { enqueueTestDelivery } from '../../queue/webhook-deliveries.ts';
import { findVisibleWorkspace } from '../../store/access.ts';
import {
  deleteWebhook,
  findWebhook,
  insertWebhook,
  listDeliveries,
  listWebhooks,
} from '../../store/webhooks.ts';
import { requireAdmin } from '../auth.ts';
import { readJson } from '../body.ts';
import type { AppEnv } from '../context.ts';

/**
 * Outbound webhooks of a workspace (admins only): add, list, delete, read the delivery log, send a test event.
 * The secret is write-only. Deliveries are sent by events/webhook-sender.ts, never during a request.
 */
export function webhookRoutes() {
  const r = new Hono<AppEnv>();

  r.post('/workspaces/:id/webhooks', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, CreateWebhookBody);
    const { db, webhooks } = c.var.deps;
    const ws = await findVisibleWorkspace(db, c.var.account, c.req.param('id'));
    const problem = webhooks.allowPrivate ? null : literalTargetProblem(new URL(body.url));
    if (problem) throw new ApiError('validation_failed', `url: ${problem}`);
    const id = `whk_${randomUUID().replaceAll('-', '')}`;
    return c.json(await insertWebhook(db, id, ws.id, body, c.var.account.id), 201);
  });

  r.get('/workspaces/:id/webhooks', async (c) => {
    requireAdmin(c.var.account);
    const { db } = c.var.deps;
    const ws = await findVisibleWorkspace(db, c.var.account, c.req.param('id'));
    return c.json({ items: await listWebhooks(db, ws.id), nextCursor: null });
  });

  r.delete('/webhooks/:id', async (c) => {
    requireAdmin(c.var.account);
    const { db } = c.var.deps;
    const hook = await findWebhook(db, c.req.param('id'));
    await deleteWebhook(db, hook.id);
    return c.json(hook);
  });

  r.get('/webhooks/:id/deliveries', async (c) => {
    requireAdmin(c.var.account);
    const { db } = c.var.deps;
    const hook = await findWebhook(db, c.req.param('id'));
    return c.json({ items: await listDeliveries(db, hook.id, 100), nextCursor: null });
  });

  r.post('/webhooks/:id/test', async (c) => {
    requireAdmin(c.var.account);
    const { db, webhookSender } = c.var.deps;
    const hook = await findWebhook(db, c.req.param('id'));
    const id = `dlv_${randomUUID().replaceAll('-', '')}`;
    await enqueueTestDelivery(db, hook.id, id);
    webhookSender?.wake();
    return c.json({ deliveryId: id }, 202);
  });

  return r;
}

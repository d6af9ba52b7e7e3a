import { z } from 'zod';

/** What a webhook can be told about: a task that ended, or one that waits for a person. */
export const WebhookEventType = z.enum([
  'task.completed',
  'task.failed',
  'task.cancelled',
  'task.waiting_input',
]);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

export const CreateWebhookBody = z.strictObject({
  url: z
    .string()
    .max(2000)
    .url()
    .refine((u) => /^https?:\/\//i.test(u), 'a webhook URL must start with http:// or https://'),
  /** Signs every delivery (HMAC-SHA256); never returned by the API. */
  secret: z.string().min(16).max(200),
  events: z.array(WebhookEventType).min(1).max(4).optional(),
});
export type CreateWebhookBody = z.infer<typeof CreateWebhookBody>;

export const Webhook = z.object({
  id: z.string(),
  workspaceId: z.string(),
  url: z.string(),
  events: z.array(WebhookEventType),
  createdAt: z.string(),
});
export type Webhook = z.infer<typeof Webhook>;

export const WebhookAttempt = z.object({
  attempt: z.number().int(),
  at: z.string(),
  /** The receiver's HTTP status, or null when it did not answer (time-out, refused, blocked address). */
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  durationMs: z.number().int(),
});

export const WebhookDelivery = z.object({
  id: z.string(),
  webhookId: z.string(),
  /** One of the event types, or `ping` for the test call. */
  type: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  createdAt: z.string(),
  nextAttemptAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  log: z.array(WebhookAttempt),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

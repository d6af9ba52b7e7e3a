import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Db } from '../db/index.ts';
import { type TaskRow, toTask } from '../db/rows.ts';
import { type DueDelivery, recordAttempt, takeDueDeliveries } from '../queue/webhook-deliveries.ts';
import type { Bus } from './bus.ts';
import { retryDelayMs, Sweeps } from './sweeps.ts';
import { guardedLookup, literalTargetProblem } from './webhook-target.ts';

export interface WebhookSettings {
  /** Let webhooks reach loopback and private addresses (BUILDD_WEBHOOK_ALLOW_PRIVATE=1; tests). */
  allowPrivate: boolean;
  /** How long a receiver has to answer. */
  timeoutMs: number;
  /** The first retry's wait; each later one doubles (with jitter), up to an hour. */
  retryBaseMs: number;
  /** How long a delivery keeps being retried before it is marked failed. */
  giveUpSeconds: number;
  /** How often due deliveries are looked for (changes also wake the sender). */
  pollMs: number;
}

export const defaultWebhookSettings: WebhookSettings = {
  allowPrivate: false,
  timeoutMs: 10_000,
  retryBaseMs: 10_000,
  giveUpSeconds: 24 * 3600,
  pollMs: 2000,
};

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` */
export function signature(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/**
 * Sends webhook deliveries (rows written with the change they report). Each replica runs one; the rows are
 * shared out with SKIP LOCKED and a lease, so a delivery is sent by one replica at a time. Sending happens
 * here, never on a request: a receiver that hangs only ties up one of this sender's slots until its time-out.
 */
export class WebhookSender {
  private readonly sweeps: Sweeps;
  private readonly inflight = new Set<Promise<void>>();
  private readonly requests = new Set<http.ClientRequest>();

  constructor(
    private readonly db: Db,
    bus: Bus,
    private readonly settings: WebhookSettings,
    private readonly log: Logger,
  ) {
    this.sweeps = new Sweeps(
      bus,
      settings.pollMs,
      () => this.round(),
      (err) => this.log.warn({ err: err.message }, 'webhook round failed'),
    );
  }

  /** Looks for due deliveries now. */
  wake(): void {
    this.sweeps.wake();
  }

  /** Starts what is due, up to 16 sends at a time; each one that ends wakes the next sweep. */
  private async round(): Promise<boolean> {
    const room = 16 - this.inflight.size;
    if (room <= 0) return false;
    const leaseSeconds = Math.ceil(this.settings.timeoutMs / 1000) + 30;
    for (const d of await takeDueDeliveries(this.db, room, leaseSeconds)) {
      const p = this.deliver(d).finally(() => {
        this.inflight.delete(p);
        this.wake();
      });
      this.inflight.add(p);
    }
    return false;
  }

  private async deliver(d: DueDelivery): Promise<void> {
    const body = JSON.stringify({
      id: d.id,
      type: d.type,
      createdAt: new Date(d.created_at).toISOString(),
      task: d.task ? toTask(d.task as unknown as TaskRow) : null,
    });
    const started = Date.now();
    const outcome = await this.post(d, body)
      .then((statusCode) => ({ statusCode, error: statusCode < 300 ? null : `answered ${statusCode}` }))
      .catch((err: Error) => ({ statusCode: null, error: err.message.slice(0, 500) }));
    const result = { ...outcome, durationMs: Date.now() - started };
    // Stopped mid-send: the row's lease runs out and a replica sends it again.
    if (this.sweeps.stopped) return;
    if (result.error)
      this.log.info({ delivery: d.id, attempt: d.attempts, error: result.error }, 'webhook not delivered');
    await recordAttempt(
      this.db,
      d,
      result,
      retryDelayMs(d.attempts, this.settings.retryBaseMs, 3_600_000), // at most an hour apart
      this.settings.giveUpSeconds,
    );
  }

  private post(d: DueDelivery, body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const url = new URL(d.url);
      const problem = this.settings.allowPrivate ? null : literalTargetProblem(url);
      if (problem) return reject(new Error(problem));
      const client = url.protocol === 'https:' ? https : http;
      const req = client.request(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'buildd-webhook',
          'buildd-event': d.type,
          'buildd-delivery': d.id,
          'buildd-signature': signature(d.secret, body),
        },
        ...(this.settings.allowPrivate ? {} : { lookup: guardedLookup as never }),
      });
      this.requests.add(req);
      req.on('close', () => this.requests.delete(req));
      const deadline = setTimeout(
        () => req.destroy(new Error(`no answer within ${this.settings.timeoutMs} ms`)),
        this.settings.timeoutMs,
      );
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => {
          clearTimeout(deadline);
          resolve(res.statusCode ?? 0);
        });
        res.on('error', () => {});
      });
      req.on('error', (err) => {
        clearTimeout(deadline);
        reject(err);
      });
      req.end(body);
    });
  }

  async stop(): Promise<void> {
    await this.sweeps.stop();
    for (const req of this.requests) req.destroy(new Error('the server is stopping'));
    await Promise.allSettled([...this.inflight]);
  }
}

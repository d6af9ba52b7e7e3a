import { ApiError } from '../errors.ts';

/** How much one worker may log; an agent's run stays far below these, a runaway or hostile one does not. */
export interface EventLimits {
  /** Events stored per worker. */
  maxEvents: number;
  /** Bytes of event data stored per worker. */
  maxBytes: number;
  /** Events a worker may send at once before the rate applies (the bucket's size). */
  burst: number;
  /** Events per second a worker may send on average. */
  perSecond: number;
  /** How long after a worker ended its late events (from the agent's spool) are still taken. */
  lateSeconds: number;
}

export const defaultEventLimits: EventLimits = {
  maxEvents: 20_000,
  maxBytes: 32 * 1024 * 1024,
  burst: 2_000,
  perSecond: 100,
  lateSeconds: 300,
};

/**
 * A token bucket per worker, in this process: a replica behind a load balancer sees only its share of a
 * worker's batches, so the rate is per replica (the caps, in the database, are exact).
 */
export class EventRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly limits: Pick<EventLimits, 'burst' | 'perSecond'>) {}

  /** Takes `count` tokens for the worker, or throws 429 saying when to come back. */
  take(workerId: string, count: number, now = Date.now()): void {
    const { burst, perSecond } = this.limits;
    const b = this.buckets.get(workerId) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
    if (b.tokens < count) {
      this.buckets.set(workerId, b);
      const retryAfterSeconds = Math.max(1, Math.ceil((count - b.tokens) / perSecond));
      throw new ApiError(
        'rate_limited',
        `This worker sends events faster than ${perSecond} a second; nothing of this batch was stored, send it again in ${retryAfterSeconds} s.`,
        { limit: perSecond, current: Math.round(burst - b.tokens), retryAfterSeconds },
      );
    }
    b.tokens -= count;
    this.buckets.delete(workerId); // keeps the map in insertion order, oldest first
    this.buckets.set(workerId, b);
    if (this.buckets.size > 50_000) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
  }

  /** Returns tokens taken for a batch that was refused for another reason (unknown worker, not the holder). */
  giveBack(workerId: string, count: number): void {
    const b = this.buckets.get(workerId);
    if (b) b.tokens = Math.min(this.limits.burst, b.tokens + count);
  }
}

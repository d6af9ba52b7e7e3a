import { ApiError } from './api-error.ts';

/** Options of `backoffDelay`. */
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (0-based): exponential, capped, with "equal jitter" — half the
 * delay is fixed so a retry never comes back at once, half is random so many agents that lost the
 * server together do not all come back in the same instant.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = 1000, maxMs = 60_000, random = Math.random } = options;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Whether retrying `error` can help: network failures, timeouts and 5xx answers. */
export function isTransient(error: unknown): boolean {
  if (error instanceof ApiError) return error.kind === 'transient';
  return false;
}

/** Options of `withRetry`. */
export interface RetryOptions extends BackoffOptions {
  /** Give up after this many retries (the first call is not counted). */
  retries?: number;
  signal?: AbortSignal;
  shouldRetry?: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Calls `fn` until it succeeds, retrying only transient errors with `backoffDelay`. The one retry
 * helper of the agent: everything else that retries builds on `backoffDelay` so the policy is shared.
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { retries = Number.POSITIVE_INFINITY, signal, shouldRetry = isTransient, onRetry } = options;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= retries || signal?.aborted || !shouldRetry(error)) throw error;
      const delayMs = backoffDelay(attempt, options);
      onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, signal);
      if (signal?.aborted) throw error;
    }
  }
}

import { ApiError } from '../errors.ts';

/** Seconds until the next UTC midnight, when daily cost usage starts again from zero. */
export function secondsUntilUtcMidnight(now = new Date()): { seconds: number; resetsAt: string } {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return { seconds: Math.ceil((next - now.getTime()) / 1000), resetsAt: new Date(next).toISOString() };
}

/** The 429 for a limit: what it is, where the account stands and when to come back. */
export function limitError(
  code: 'concurrency_limit' | 'session_limit' | 'cost_limit',
  what: string,
  limit: number,
  current: number,
  retryAfterSeconds: number,
  resetsAt?: string,
): ApiError {
  const when = resetsAt
    ? `It resets at ${resetsAt}.`
    : `Try again in ${retryAfterSeconds} s or when a run ends.`;
  return new ApiError(
    code,
    `The account has reached its limit of ${limit} ${what} (now ${current}). ${when}`,
    {
      limit,
      current,
      retryAfterSeconds,
      ...(resetsAt ? { resetsAt } : {}),
    },
  );
}

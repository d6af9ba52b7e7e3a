import type { AuthType } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { AccountRow } from '../db/rows.ts';
import { ApiError } from '../errors.ts';

/** Seconds until the next UTC midnight, when daily cost usage starts again from zero. */
export function secondsUntilUtcMidnight(now = new Date()): { seconds: number; resetsAt: string } {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return { seconds: Math.ceil((next - now.getTime()) / 1000), resetsAt: new Date(next).toISOString() };
}

/** The account's live usage, always counted from rows (never from counters that can drift). */
export async function readUsage(tx: Queryable, accountId: string) {
  const rows = await tx.query<{ live: number; live_oauth: number; cost_today: number }>(
    `SELECT (SELECT count(*) FROM workers WHERE account_id = $1 AND status IN ('claimed', 'running'))::int AS live,
            (SELECT count(*) FROM workers WHERE account_id = $1 AND status IN ('claimed', 'running')
                AND auth_type = 'oauth')::int AS live_oauth,
            COALESCE((SELECT cost_usd FROM usage_days
                       WHERE account_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date), 0) AS cost_today`,
    [accountId],
  );
  return rows[0]!;
}

/**
 * How many tasks the account may take now (DESIGN §4 step 2). Throws the 429 of the first limit that
 * leaves no slot, with what it is, where the account stands and when to come back.
 */
export async function slotsLeft(
  tx: Queryable,
  account: AccountRow,
  authType: AuthType,
  requested: number,
  retrySeconds: number,
): Promise<number> {
  const usage = await readUsage(tx, account.id);
  const byWorkers = account.max_concurrent_workers - usage.live;
  if (byWorkers <= 0) {
    throw limitError(
      'concurrency_limit',
      'concurrent workers',
      account.max_concurrent_workers,
      usage.live,
      retrySeconds,
    );
  }
  let slots = Math.min(requested, byWorkers);
  if (authType === 'oauth') {
    const bySessions = account.max_concurrent_sessions - usage.live_oauth;
    if (bySessions <= 0) {
      throw limitError(
        'session_limit',
        'concurrent OAuth sessions',
        account.max_concurrent_sessions,
        usage.live_oauth,
        retrySeconds,
      );
    }
    slots = Math.min(slots, bySessions);
  } else if (account.max_cost_per_day_usd !== null && usage.cost_today >= account.max_cost_per_day_usd) {
    const reset = secondsUntilUtcMidnight();
    throw limitError(
      'cost_limit',
      'daily cost (USD)',
      account.max_cost_per_day_usd,
      usage.cost_today,
      reset.seconds,
      reset.resetsAt,
    );
  }
  return slots;
}

function limitError(
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

import type { UsageEntry } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';

interface UsageRow {
  account_id: string;
  account_name: string;
  max_cost_per_day_usd: number | null;
  day: string;
  cost_usd: number;
  input_tokens: number | string;
  output_tokens: number | string;
}

/** Cost and tokens per account and UTC day, newest first: one account's, or everyone's when `accountId` is null. */
export async function usageDays(
  db: Queryable,
  accountId: string | null,
  days: number,
): Promise<UsageEntry[]> {
  const rows = await db.query<UsageRow>(
    `SELECT u.account_id, a.name AS account_name, a.max_cost_per_day_usd, to_char(u.day, 'YYYY-MM-DD') AS day,
            u.cost_usd, u.input_tokens, u.output_tokens
       FROM usage_days u JOIN accounts a ON a.id = u.account_id
      WHERE ($1::text IS NULL OR u.account_id = $1)
        AND u.day > (now() AT TIME ZONE 'UTC')::date - $2::integer
      ORDER BY u.day DESC, a.name, u.account_id LIMIT 10000`,
    [accountId, days],
  );
  return rows.map((r) => ({
    accountId: r.account_id,
    accountName: r.account_name,
    maxCostPerDayUsd: r.max_cost_per_day_usd === null ? null : Number(r.max_cost_per_day_usd),
    day: r.day,
    costUsd: Number(r.cost_usd),
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
  }));
}

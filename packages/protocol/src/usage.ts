import { z } from 'zod';
import { Id, page } from './common.ts';

/** `GET /api/usage`: the last `days` UTC days (default 30); admins may pick one account, or see all. */
export const UsageQuery = z.object({
  days: z.coerce.number().int().min(1).max(366).optional(),
  accountId: Id.optional(),
});
export type UsageQuery = z.infer<typeof UsageQuery>;

/** One account's cost and tokens on one UTC day, with the account's daily cost cap (null = none). */
export const UsageEntry = z.object({
  accountId: Id,
  day: z.string(),
  costUsd: z.number(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  accountName: z.string(),
  maxCostPerDayUsd: z.number().nullable(),
});
export type UsageEntry = z.infer<typeof UsageEntry>;

export const UsagePage = page(UsageEntry);

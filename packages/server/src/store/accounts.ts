import type { AccountType, CreateAccountBody } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { AccountRow, ApiKeyRow } from '../db/rows.ts';
import { ApiError } from '../errors.ts';
import { apiKeyPattern, hashApiKey, keyPrefix, newApiKey, newId } from '../ids.ts';

/** Issues a new key for an account; the plain key is returned once and only its hash is kept. */
export async function createApiKey(
  db: Queryable,
  accountId: string,
  type: AccountType,
  name: string | null,
  plainKey?: string,
): Promise<{ key: ApiKeyRow; apiKey: string }> {
  const apiKey = plainKey ?? newApiKey(type);
  if (!apiKeyPattern.test(apiKey)) {
    throw new ApiError(
      'validation_failed',
      'An API key must look like buildd_<user|svc|action>_ followed by at least 32 letters or digits.',
    );
  }
  const rows = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, account_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4, $5)
     RETURNING id, account_id, name, prefix, created_at, last_used_at, revoked_at`,
    [newId('key'), accountId, name, keyPrefix(apiKey), hashApiKey(apiKey)],
  );
  return { key: rows[0]!, apiKey };
}

/** Creates an account and its first API key in one go. */
export async function createAccount(
  db: Queryable,
  body: CreateAccountBody,
  plainKey?: string,
): Promise<{ account: AccountRow; apiKey: string }> {
  const rows = await db.query<AccountRow>(
    `INSERT INTO accounts (id, name, type, level, max_concurrent_workers, max_concurrent_sessions, max_cost_per_day_usd)
     VALUES ($1, $2, $3, $4, COALESCE($5, 3), COALESCE($6, 2), $7) RETURNING *`,
    [
      newId('acc'),
      body.name,
      body.type,
      body.level ?? 'member',
      body.maxConcurrentWorkers ?? null,
      body.maxConcurrentSessions ?? null,
      body.maxCostPerDayUsd ?? null,
    ],
  );
  const account = rows[0]!;
  const { apiKey } = await createApiKey(db, account.id, account.type, 'default', plainKey);
  return { account, apiKey };
}

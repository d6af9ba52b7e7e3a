import type { CreateAccountBody, UpdateAccountBody } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { AccountRow } from '../db/rows.ts';
import { newId } from '../ids.ts';
import { createApiKey } from './api-keys.ts';

export { createApiKey } from './api-keys.ts';

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

/** One account by id. */
export async function findAccount(db: Queryable, id: string): Promise<AccountRow | undefined> {
  return (await db.query<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id]))[0];
}

/** A page of accounts in id order, fetching one extra row to tell whether another page exists. */
export async function listAccounts(
  db: Queryable,
  after: string | null,
  limit: number,
): Promise<AccountRow[]> {
  return db.query<AccountRow>(
    'SELECT * FROM accounts WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2',
    [after, limit + 1],
  );
}

/** Changes the fields given; `maxCostPerDayUsd: null` removes the cap. Undefined when there is no such account. */
export async function updateAccount(
  db: Queryable,
  id: string,
  body: UpdateAccountBody,
): Promise<AccountRow | undefined> {
  const rows = await db.query<AccountRow>(
    `UPDATE accounts SET
       name = COALESCE($2, name), level = COALESCE($3, level),
       max_concurrent_workers = COALESCE($4, max_concurrent_workers),
       max_concurrent_sessions = COALESCE($5, max_concurrent_sessions),
       max_cost_per_day_usd = CASE WHEN $6::boolean THEN $7 ELSE max_cost_per_day_usd END
     WHERE id = $1 RETURNING *`,
    [
      id,
      body.name ?? null,
      body.level ?? null,
      body.maxConcurrentWorkers ?? null,
      body.maxConcurrentSessions ?? null,
      body.maxCostPerDayUsd !== undefined,
      body.maxCostPerDayUsd ?? null,
    ],
  );
  return rows[0];
}

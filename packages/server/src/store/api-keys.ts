import type { AccountType } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { AccountRow, ApiKeyRow } from '../db/rows.ts';
import { ApiError } from '../errors.ts';
import { apiKeyPattern, hashApiKey, keyPrefix, newApiKey, newId } from '../ids.ts';

const keyColumns = 'id, account_id, name, prefix, created_at, last_used_at, revoked_at';

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
     RETURNING ${keyColumns}`,
    [newId('key'), accountId, name, keyPrefix(apiKey), hashApiKey(apiKey)],
  );
  return { key: rows[0]!, apiKey };
}

/** The account that holds an unrevoked key with this hash, and whether its last-used stamp is old. */
export async function findAccountByKeyHash(
  db: Queryable,
  hash: string,
): Promise<(AccountRow & { key_id: string; prefix: string; stale: boolean }) | undefined> {
  const rows = await db.query<AccountRow & { key_id: string; prefix: string; stale: boolean }>(
    `SELECT a.*, k.id AS key_id, k.prefix,
            (k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds') AS stale
       FROM api_keys k JOIN accounts a ON a.id = k.account_id
      WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [hash],
  );
  return rows[0];
}

/** Stamps a key as used now. */
export async function markKeyUsed(db: Queryable, keyId: string): Promise<void> {
  await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [keyId]);
}

/** An account's keys, oldest first (never the hash). */
export async function listKeys(db: Queryable, accountId: string): Promise<ApiKeyRow[]> {
  return db.query<ApiKeyRow>(
    `SELECT ${keyColumns} FROM api_keys WHERE account_id = $1 ORDER BY created_at, id`,
    [accountId],
  );
}

/** Revokes a key (revoking twice keeps the first time); undefined when there is no such key. */
export async function revokeKey(db: Queryable, keyId: string): Promise<ApiKeyRow | undefined> {
  const rows = await db.query<ApiKeyRow>(
    `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING ${keyColumns}`,
    [keyId],
  );
  return rows[0];
}

import type { Queryable } from '../db/index.ts';
import type { AccountRow } from '../db/rows.ts';
import { hashApiKey, randomBase62 } from '../ids.ts';

/** A session ends this long after its last use... */
export const sessionIdleHours = 12;
/** ...and at the latest this long after the login, however busy. */
export const sessionMaxDays = 7;

export interface NewSession {
  /** The cookie value; only its hash is stored. */
  token: string;
  /** The CSRF token the dashboard echoes in `X-Buildd-CSRF`; only its hash is stored. */
  csrf: string;
  expiresAt: string;
}

/** The live key a login presents, with its account; undefined when the key is unknown or revoked. */
export async function findLiveKey(
  db: Queryable,
  apiKey: string,
): Promise<(AccountRow & { key_id: string; prefix: string }) | undefined> {
  const rows = await db.query<AccountRow & { key_id: string; prefix: string }>(
    `SELECT a.*, k.id AS key_id, k.prefix FROM api_keys k JOIN accounts a ON a.id = k.account_id
      WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [hashApiKey(apiKey)],
  );
  return rows[0];
}

/** Opens a session for a key; the plain tokens are returned once and never stored. */
export async function createSession(db: Queryable, accountId: string, keyId: string): Promise<NewSession> {
  // Logins are rare: a good moment to forget sessions that ended more than a day ago.
  await db.query(
    `DELETE FROM sessions WHERE expires_at < now() - interval '1 day' OR revoked_at < now() - interval '1 day'`,
  );
  const token = `bds_${randomBase62(43)}`;
  const csrf = randomBase62(32);
  const rows = await db.query<{ expires_at: string }>(
    `INSERT INTO sessions (id, token_hash, csrf_hash, account_id, key_id, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(hours => $6)) RETURNING expires_at`,
    [`ses_${randomBase62(16)}`, hashApiKey(token), hashApiKey(csrf), accountId, keyId, sessionIdleHours],
  );
  return { token, csrf, expiresAt: new Date(rows[0]!.expires_at).toISOString() };
}

export interface LiveSession {
  account: AccountRow;
  keyId: string;
  keyPrefix: string;
  csrfHash: string;
}

/**
 * The live session a cookie names: not expired, not revoked, its key not revoked. Using it pushes its idle
 * expiry forward (written at most once a minute, never past the session's maximum age).
 */
export async function findLiveSession(db: Queryable, token: string): Promise<LiveSession | undefined> {
  const rows = await db.query<
    AccountRow & { session_id: string; key_id: string; prefix: string; csrf_hash: string; stale: boolean }
  >(
    `SELECT a.*, s.id AS session_id, s.key_id, k.prefix, s.csrf_hash,
            s.last_used_at < now() - interval '60 seconds' AS stale
       FROM sessions s JOIN api_keys k ON k.id = s.key_id JOIN accounts a ON a.id = s.account_id
      WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND k.revoked_at IS NULL`,
    [hashApiKey(token)],
  );
  const row = rows[0];
  if (!row) return undefined;
  if (row.stale) {
    await db.query(
      `UPDATE sessions SET last_used_at = now(),
              expires_at = LEAST(now() + make_interval(hours => $2), created_at + make_interval(days => $3))
        WHERE id = $1`,
      [row.session_id, sessionIdleHours, sessionMaxDays],
    );
  }
  const { session_id: _s, key_id, prefix, csrf_hash, stale: _t, ...account } = row;
  return { account, keyId: key_id, keyPrefix: prefix, csrfHash: csrf_hash };
}

/** Ends the session a cookie names (logout); unknown tokens are ignored. */
export async function revokeSession(db: Queryable, token: string): Promise<void> {
  await db.query('UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL', [
    hashApiKey(token),
  ]);
}

import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import type { AccountRow } from '../db/rows.ts';
import { toAccount } from '../db/rows.ts';
import { ApiError } from '../errors.ts';
import { apiKeyPattern, hashApiKey } from '../ids.ts';
import type { AppEnv, AuthedAccount } from './context.ts';
import { sessionAccount } from './session-auth.ts';

export const sessionCookie = 'buildd_session';

/** Reads the API key from `Authorization: Bearer …`. */
function presentedKey(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = header.match(/^Bearer\s+(\S+)\s*$/i);
  if (!match)
    throw new ApiError('unauthenticated', 'The Authorization header must be "Bearer <buildd API key>".');
  return match[1];
}

/**
 * Authenticates every request under it by its Bearer key or, without one, the dashboard's session cookie;
 * the account lands in `c.var.account`.
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('authorization');
  const session = header ? undefined : getCookie(c, sessionCookie);
  if (session) {
    c.set('account', await sessionAccount(c, session));
    return next();
  }
  const key = presentedKey(header);
  if (!key) {
    throw new ApiError('unauthenticated', 'No API key: send "Authorization: Bearer <buildd API key>".');
  }
  if (!apiKeyPattern.test(key)) {
    throw new ApiError('unauthenticated', 'That is not a buildd API key (they look like buildd_user_…).');
  }
  const hash = hashApiKey(key);
  const cached = keyCache.get(hash);
  if (cached && cached.until > Date.now()) {
    c.set('account', cached.account);
    return next();
  }
  const { db } = c.var.deps;
  const rows = await db.query<AccountRow & { key_id: string; prefix: string; stale: boolean }>(
    `SELECT a.*, k.id AS key_id, k.prefix,
            (k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds') AS stale
       FROM api_keys k JOIN accounts a ON a.id = k.account_id
      WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [hash],
  );
  const row = rows[0];
  if (!row) throw new ApiError('unauthenticated', 'This API key is unknown or has been revoked.');
  if (row.stale) {
    // Written at most once a minute per key so that busy agents do not turn every request into a write.
    await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [row.key_id]);
  }
  const account: AuthedAccount = { ...toAccount(row), keyId: row.key_id, keyPrefix: row.prefix };
  if (keyCache.size >= 10_000) keyCache.clear();
  keyCache.set(hash, { account, until: Date.now() + keyCacheMs });
  c.set('account', account);
  await next();
});

/**
 * Busy agents send several requests a second; remembering a key for a moment saves a query on each.
 * Revoking a key or changing an account clears it here at once; other replicas notice within `keyCacheMs`.
 */
const keyCacheMs = 2000;
const keyCache = new Map<string, { account: AuthedAccount; until: number }>();

/** Forgets every remembered key (after a revoke or an account change). */
export function forgetKeys(): void {
  keyCache.clear();
}

/** Only admins pass. */
export function requireAdmin(account: AuthedAccount): void {
  if (account.level !== 'admin') throw new ApiError('forbidden', 'Only an admin account may do this.');
}

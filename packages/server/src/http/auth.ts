import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import type { Caller } from '../caller.ts';
import { toAccount } from '../db/rows.ts';
import { ApiError } from '../errors.ts';
import { apiKeyPattern, hashApiKey } from '../ids.ts';
import { findAccountByKeyHash, markKeyUsed } from '../store/api-keys.ts';
import type { AppEnv } from './context.ts';
import { requestHeader } from './node-request.ts';
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
 * Authenticates every request under it by its Bearer key or, without one, the dashboard's session cookie
 * (`session-auth.ts`); the account lands in `c.var.account`.
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const header = requestHeader(c, 'authorization');
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
  const row = await findAccountByKeyHash(db, hash);
  if (!row) throw new ApiError('unauthenticated', 'This API key is unknown or has been revoked.');
  if (row.stale) {
    // Written at most once a minute per key so that busy agents do not turn every request into a write.
    await markKeyUsed(db, row.key_id);
  }
  const account: Caller = { ...toAccount(row), keyId: row.key_id, keyPrefix: row.prefix };
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
const keyCache = new Map<string, { account: Caller; until: number }>();

/** Forgets every remembered key (after a revoke or an account change). */
export function forgetKeys(): void {
  keyCache.clear();
}

/** Only admins pass. */
export function requireAdmin(account: Caller): void {
  if (account.level !== 'admin') throw new ApiError('forbidden', 'Only an admin account may do this.');
}

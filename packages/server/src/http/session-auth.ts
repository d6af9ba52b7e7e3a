import { csrfHeader } from '@buildd/protocol';
import type { Context } from 'hono';
import type { Caller } from '../caller.ts';
import { toAccount } from '../db/rows.ts';
import { ApiError } from '../errors.ts';
import { hashApiKey } from '../ids.ts';
import { findLiveSession } from '../store/sessions.ts';
import type { AppEnv } from './context.ts';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A page on another site cannot read our CSRF cookie, so it cannot echo it in the header. The Origin check
 * is a second fence for browsers that send it.
 */
function assertSameOriginWrite(c: Context<AppEnv>, csrfHash: string): void {
  if (safeMethods.has(c.req.method)) return;
  const origin = c.req.header('origin');
  if (origin && origin !== 'null') {
    const host = c.req.header('x-forwarded-host') ?? c.req.header('host');
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (!host || originHost !== host) {
      throw new ApiError('forbidden', 'This request comes from another site; the dashboard refuses it.');
    }
  }
  const presented = c.req.header(csrfHeader);
  if (!presented || hashApiKey(presented) !== csrfHash) {
    throw new ApiError(
      'forbidden',
      `A write with the session cookie must carry the ${csrfHeader} header (the value of the buildd_csrf cookie); reload the dashboard.`,
    );
  }
}

/** Authenticates a request by its dashboard session cookie (and, for writes, its CSRF header). */
export async function sessionAccount(c: Context<AppEnv>, token: string): Promise<Caller> {
  const session = await findLiveSession(c.var.deps.db, token);
  if (!session) {
    throw new ApiError(
      'unauthenticated',
      'Your dashboard session has ended (logged out, expired, or its API key was revoked): log in again.',
    );
  }
  assertSameOriginWrite(c, session.csrfHash);
  return { ...toAccount(session.account), keyId: session.keyId, keyPrefix: session.keyPrefix };
}

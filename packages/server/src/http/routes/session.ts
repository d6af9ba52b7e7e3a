import { CreateSessionBody, csrfCookie } from '@buildd/protocol';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { toAccount } from '../../db/rows.ts';
import { ApiError } from '../../errors.ts';
import { apiKeyPattern, keyPrefix } from '../../ids.ts';
import { createSession, findLiveKey, revokeSession, sessionMaxDays } from '../../store/sessions.ts';
import { sessionCookie } from '../auth.ts';
import { readJson } from '../body.ts';
import type { AppEnv } from '../context.ts';

/** Secure cookies only over https (directly, or behind a proxy that says so), so plain localhost works. */
function isHttps(c: Context<AppEnv>): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

/**
 * `POST /api/session {apiKey}`: the dashboard's login. The key is checked and forgotten; the browser keeps
 * only an HttpOnly session cookie (whose hash the server stores) and a readable CSRF cookie.
 * `DELETE /api/session`: logout. Both sit in front of `requireAuth`.
 */
export function sessionRoutes() {
  const r = new Hono<AppEnv>();

  r.post('/session', async (c) => {
    const { apiKey } = await readJson(c, CreateSessionBody);
    if (!apiKeyPattern.test(apiKey)) {
      throw new ApiError('unauthenticated', 'That is not a buildd API key (they look like buildd_user_…).');
    }
    const { db, log } = c.var.deps;
    const key = await findLiveKey(db, apiKey);
    if (!key) throw new ApiError('unauthenticated', 'This API key is unknown or has been revoked.');
    const session = await createSession(db, key.id, key.key_id);
    const common = {
      path: '/',
      sameSite: 'Strict' as const,
      secure: isHttps(c),
      maxAge: sessionMaxDays * 24 * 3600,
    };
    setCookie(c, sessionCookie, session.token, { ...common, httpOnly: true });
    setCookie(c, csrfCookie, session.csrf, common);
    log.info({ account: key.id, key: keyPrefix(apiKey) }, 'dashboard session opened');
    const { key_id: _k, prefix: _p, ...account } = key;
    return c.json({ account: toAccount(account), expiresAt: session.expiresAt }, 201);
  });

  r.delete('/session', async (c) => {
    const token = getCookie(c, sessionCookie);
    if (token) await revokeSession(c.var.deps.db, token);
    deleteCookie(c, sessionCookie, { path: '/' });
    deleteCookie(c, csrfCookie, { path: '/' });
    return c.body(null, 204);
  });

  return r;
}

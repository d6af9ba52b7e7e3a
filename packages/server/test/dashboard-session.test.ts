/**
 * The dashboard's login: an API key exchanged for an HttpOnly session cookie, CSRF-protected writes,
 * logout, expiry and revocation; and the static serving of the built dashboard.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDashboard } from '../src/http/static.ts';
import { hashApiKey } from '../src/ids.ts';
import { type ApiClient, apiClient, makeAccount } from './support/api.ts';
import { expectApiError } from './support/checks.ts';
import { testEngines } from './support/engines.ts';
import { startTestServer, type TestServer } from './support/server.ts';

interface Login {
  status: number;
  body: any;
  headers: Headers;
  setCookies: string[];
  session?: string;
  csrf?: string;
}

/** Every cookie the browser would store from an answer, as `name=value`. */
function cookiesOf(headers: Headers): string[] {
  return headers.getSetCookie();
}

describe.each(await testEngines())('dashboard session on %s', (engine) => {
  let t: TestServer;
  let admin: ApiClient;
  beforeAll(async () => {
    t = await startTestServer({ engine });
    admin = apiClient(t.url, t.adminKey);
    expect((await admin.post('/api/workspaces', { name: 'dash' })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function login(apiKey: unknown, headers: Record<string, string> = {}): Promise<Login> {
    const res = await apiClient(t.url).call('POST', '/api/session', { apiKey }, headers);
    const setCookies = cookiesOf(res.headers);
    const value = (name: string) =>
      setCookies
        .find((c) => c.startsWith(`${name}=`))
        ?.split(';')[0]
        ?.slice(name.length + 1);
    return {
      status: res.status,
      body: res.body,
      headers: res.headers,
      setCookies,
      session: value('buildd_session'),
      csrf: value('buildd_csrf'),
    };
  }

  /** A client that sends only the cookies (what the browser does), optionally the CSRF header. */
  function browser(l: Login, csrf?: string, extra: Record<string, string> = {}) {
    const headers = {
      cookie: `buildd_session=${l.session}; buildd_csrf=${l.csrf}`,
      ...(csrf ? { 'x-buildd-csrf': csrf } : {}),
      ...extra,
    };
    const anon = apiClient(t.url);
    return {
      get: (path: string) => anon.call('GET', path, undefined, headers),
      post: (path: string, body: unknown) => anon.call('POST', path, body, headers),
      del: (path: string) => anon.call('DELETE', path, undefined, headers),
    };
  }

  it('exchanges a key for an HttpOnly, SameSite=Strict cookie that is not the key', async () => {
    const l = await login(t.adminKey);
    expect(l.status).toBe(201);
    expect(l.body.account.level).toBe('admin');
    const sessionCookie = l.setCookies.find((c) => c.startsWith('buildd_session='))!;
    expect(sessionCookie).toMatch(/HttpOnly/i);
    expect(sessionCookie).toMatch(/SameSite=Strict/i);
    expect(sessionCookie).not.toMatch(/Secure/i);
    const csrfCookie = l.setCookies.find((c) => c.startsWith('buildd_csrf='))!;
    expect(csrfCookie).not.toMatch(/HttpOnly/i);
    expect(csrfCookie).toMatch(/SameSite=Strict/i);
    for (const c of l.setCookies) expect(c).not.toContain(t.adminKey);
    expect(JSON.stringify(l.body)).not.toContain(t.adminKey);
    // Only hashes are stored.
    const rows = await t.db.query<{ token_hash: string; csrf_hash: string }>('SELECT * FROM sessions');
    expect(rows.map((r) => r.token_hash)).toContain(hashApiKey(l.session!));
    expect(JSON.stringify(rows)).not.toContain(l.session!);
    expect(JSON.stringify(rows)).not.toContain(l.csrf!);

    const me = await browser(l).get('/api/me');
    expect(me.status).toBe(200);
    expect(me.body.account.id).toBe(l.body.account.id);
  });

  it('marks the cookies Secure behind an https proxy', async () => {
    const l = await login(t.adminKey, { 'x-forwarded-proto': 'https' });
    expect(l.status).toBe(201);
    for (const c of l.setCookies) expect(c).toMatch(/Secure/i);
  });

  it('refuses bad logins with the API’s sentence, and opens no session', async () => {
    const sessions = async () => (await t.db.query('SELECT id FROM sessions')).length;
    const before = await sessions();
    expectApiError(await login(undefined), 400, 'validation_failed');
    expectApiError(await login('not a key'), 401, 'unauthenticated');
    const unknown = await login(`buildd_user_${'x'.repeat(40)}`);
    expectApiError(unknown, 401, 'unauthenticated');
    expect(unknown.body.error.message).toMatch(/unknown or has been revoked/);
    expect(unknown.setCookies).toEqual([]);
    expect(await sessions()).toBe(before);
  });

  it('lets a cookie write only with the CSRF header and from its own origin', async () => {
    const l = await login(t.adminKey);
    const task = { workspaceId: 'dash', title: 'csrf', prompt: 'p' };
    const before = (await admin.get('/api/tasks')).body.items.length;

    const none = await browser(l).post('/api/tasks', task);
    expectApiError(none, 403, 'forbidden');
    expect(none.body.error.message).toMatch(/x-buildd-csrf/);
    expectApiError(await browser(l, 'wrong-value').post('/api/tasks', task), 403, 'forbidden');
    const host = new URL(t.url).host;
    expectApiError(
      await browser(l, l.csrf, { origin: 'https://evil.example' }).post('/api/tasks', task),
      403,
      'forbidden',
    );
    expect((await admin.get('/api/tasks')).body.items.length).toBe(before);

    const ok = await browser(l, l.csrf, { origin: `http://${host}` }).post('/api/tasks', task);
    expect(ok.status).toBe(201);
    // Reads need no header; a Bearer request needs none either, cookie or not.
    expect((await browser(l).get(`/api/tasks/${ok.body.id}`)).status).toBe(200);
    const bearer = await apiClient(t.url, t.adminKey).call('POST', '/api/tasks', task, {
      cookie: `buildd_session=${l.session}`,
    });
    expect(bearer.status).toBe(201);
  });

  it('logs out: the cookie no longer works', async () => {
    const l = await login(t.adminKey);
    const out = await browser(l).del('/api/session');
    expect(out.status).toBe(204);
    expect(cookiesOf(out.headers).join(';')).toMatch(/buildd_session=;/);
    const after = await browser(l).get('/api/me');
    expectApiError(after, 401, 'unauthenticated');
    expect(after.body.error.message).toMatch(/log in again/);
  });

  it('ends the sessions of a revoked key, and expired sessions', async () => {
    const m = await makeAccount(admin, t.url, { level: 'member' });
    const l = await login(m.key);
    expect((await browser(l).get('/api/me')).status).toBe(200);
    const keys = (await admin.get(`/api/accounts/${m.id}/keys`)).body.items;
    expect((await admin.del(`/api/keys/${keys[0].id}`)).status).toBe(200);
    expectApiError(await browser(l).get('/api/me'), 401, 'unauthenticated');

    const l2 = await login(t.adminKey);
    expect((await browser(l2).get('/api/me')).status).toBe(200);
    await t.db.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, [
      hashApiKey(l2.session!),
    ]);
    expectApiError(await browser(l2).get('/api/me'), 401, 'unauthenticated');
  });

  it('a member’s session gets the member’s answers (403 on admin routes)', async () => {
    const m = await makeAccount(admin, t.url, { level: 'member' });
    const l = await login(m.key);
    expectApiError(await browser(l).get('/api/accounts'), 403, 'forbidden');
  });
});

describe('serving the built dashboard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'buildd-dist-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>buildd</title>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(dir, 'favicon.svg'), '<svg/>');
  writeFileSync(join(dir, '..', 'secret.txt'), 'outside');
  const app = new Hono();
  app.use('*', serveDashboard(dir));
  app.notFound((c) => c.json({ error: { code: 'not_found' } }, 404));

  it('caches hashed assets for a year and the page never, with a CSP that forbids inline script', async () => {
    const asset = await app.request('/assets/index-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    const page = await app.request('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers index.html for app routes, 404 for missing assets, and nothing outside its folder', async () => {
    const deep = await app.request('/tasks/task_123/review');
    expect(await deep.text()).toContain('<title>buildd</title>');
    expect((await app.request('/assets/nope.js')).status).toBe(404);
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt']) {
      const res = await app.request(path);
      expect(await res.text()).not.toContain('outside');
    }
    const api = await app.request('/api/nothing');
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: { code: 'not_found' } });
    expect((await app.request('/assets/index-abc123.js', { method: 'POST' })).status).toBe(404);
  });
});

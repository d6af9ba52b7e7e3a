import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureAdmin } from '../src/bootstrap.ts';
import { newApiKey } from '../src/ids.ts';
import { type RunningServer, startServer } from '../src/server.ts';
import { apiClient, makeAccount } from './support/api.ts';
import { dbSnapshot, expectApiError } from './support/checks.ts';
import { freshDb, testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe.each(await testEngines())('security on %s', (engine) => {
  describe('over HTTP', () => {
    const t = useTestServer({ engine }, 'file');
    const admin = t.admin;

    /** A member account with its own key, and an open workspace with one task in it. */
    async function member(body: Record<string, unknown> = {}) {
      return makeAccount(admin, t.url, { type: 'user', level: 'member', ...body });
    }

    describe('authentication', () => {
      it('a request without Authorization answers 401 and changes nothing', async () => {
        const before = await dbSnapshot(t.db);
        const anon = apiClient(t.url);
        for (const [method, path, body] of [
          ['GET', '/api/me', undefined],
          ['GET', '/api/tasks', undefined],
          ['GET', '/api/accounts', undefined],
          ['POST', '/api/accounts', { name: 'x', type: 'user' }],
          ['POST', '/api/workspaces', { name: 'anon-ws' }],
          ['POST', '/api/workers/claim', { maxTasks: 1 }],
          ['PATCH', '/api/workers/wkr_x', { status: 'completed' }],
          ['DELETE', '/api/keys/key_x', undefined],
          ['GET', '/api/nothing-here', undefined],
        ] as const) {
          expectApiError(await anon.call(method, path, body), 401, 'unauthenticated');
        }
        expect(await dbSnapshot(t.db)).toBe(before);
      });

      it('a malformed Authorization header or key answers 401 without echoing the key', async () => {
        const anon = apiClient(t.url);
        const valid = t.adminKey;
        const headers = [
          `Basic ${Buffer.from(`admin:${valid}`).toString('base64')}`,
          'Bearer',
          'Bearer ',
          `Token ${valid}`,
          `Bearer ${valid} ${valid}`,
          'Bearer buildd_user_short',
          `Bearer buildd_root_${'a'.repeat(43)}`,
          `Bearer ${valid.replace('buildd_user_', 'buildd_svc_')}`,
          `Bearer ${valid}x`,
          `Bearer ${valid.slice(0, -1)}`,
          `Bearer ${valid.toUpperCase()}`,
          `Bearer ${newApiKey('user')}`,
        ];
        for (const authorization of headers) {
          const res = await anon.call('GET', '/api/me', undefined, { authorization });
          expectApiError(res, 401, 'unauthenticated');
          expect(JSON.stringify(res.body)).not.toContain(valid.slice(12));
        }
        // Sanity: the same client with the right header gets in, so the 401s above are about the header.
        const ok = await anon.call('GET', '/api/me', undefined, { authorization: `Bearer ${valid}` });
        expect(ok.status).toBe(200);
        expect(ok.body.account.level).toBe('admin');
      });

      it('a bad key in the session cookie answers 401', async () => {
        const res = await apiClient(t.url).call('GET', '/api/me', undefined, {
          cookie: `buildd_session=${newApiKey('user')}`,
        });
        expectApiError(res, 401, 'unauthenticated');
      });

      it('a revoked key answers 401 while the account’s other keys keep working', async () => {
        const m = await member();
        expect((await m.api.get('/api/me')).status).toBe(200);
        const second = await admin.post(`/api/accounts/${m.id}/keys`, { name: 'second' });
        expect(second.status).toBe(201);
        const keys = await admin.get(`/api/accounts/${m.id}/keys`);
        const first = keys.body.items.find((k: { name: string }) => k.name === 'default');
        expect(m.key.startsWith(first.prefix)).toBe(true);

        const revoked = await admin.del(`/api/keys/${first.id}`);
        expect(revoked.status).toBe(200);
        expect(revoked.body.revokedAt).toEqual(expect.any(String));
        expectApiError(await m.api.get('/api/me'), 401, 'unauthenticated');
        expectApiError(await m.api.post('/api/workers/claim', { maxTasks: 1 }), 401, 'unauthenticated');

        const other = apiClient(t.url, second.body.apiKey);
        const me = await other.get('/api/me');
        expect(me.status).toBe(200);
        expect(me.body.account.id).toBe(m.id);

        // Revoking again changes nothing (the first revocation time stays).
        const again = await admin.del(`/api/keys/${first.id}`);
        expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
        expectApiError(await m.api.get('/api/me'), 401, 'unauthenticated');
      });
    });

    describe('admin-only endpoints', () => {
      it('a member calling admin endpoints gets 403 and nothing changes', async () => {
        const m = await member();
        const other = await member({ type: 'service' });
        const ws = await admin.post('/api/workspaces', { name: 'admins-only', access: 'restricted' });
        const otherKeys = await admin.get(`/api/accounts/${other.id}/keys`);
        const otherKeyId = otherKeys.body.items[0].id;
        const ownKeys = await admin.get(`/api/accounts/${m.id}/keys`);
        const ownKeyId = ownKeys.body.items[0].id;
        const before = await dbSnapshot(t.db);

        for (const [method, path, body] of [
          ['POST', '/api/accounts', { name: 'sneaky', type: 'user', level: 'admin' }],
          ['GET', '/api/accounts', undefined],
          ['PATCH', `/api/accounts/${m.id}`, { level: 'admin' }],
          ['PATCH', `/api/accounts/${m.id}`, { maxConcurrentWorkers: 1000 }],
          ['POST', `/api/accounts/${other.id}/keys`, { name: 'stolen' }],
          ['POST', `/api/accounts/${m.id}/keys`, { name: 'extra' }],
          ['GET', `/api/accounts/${other.id}/keys`, undefined],
          ['DELETE', `/api/keys/${otherKeyId}`, undefined],
          ['DELETE', `/api/keys/${ownKeyId}`, undefined],
          ['POST', '/api/workspaces', { name: 'member-made' }],
          ['PATCH', `/api/workspaces/${ws.body.id}`, { access: 'open' }],
          ['PUT', `/api/workspaces/${ws.body.id}/members/${m.id}`, { canClaim: true, canCreate: true }],
          ['GET', `/api/workspaces/${ws.body.id}/members`, undefined],
        ] as const) {
          const res = await m.api.call(method, path, body);
          expectApiError(res, 403, 'forbidden');
        }
        expect(await dbSnapshot(t.db)).toBe(before);
        // The keys are still good and the member is still a member.
        expect((await other.api.get('/api/me')).status).toBe(200);
        expect((await m.api.get('/api/me')).body.account.level).toBe('member');
      });

      it('a member creating a task in a restricted workspace without can_create gets 403 and nothing is created', async () => {
        const m = await member();
        const ws = await admin.post('/api/workspaces', { name: 'no-create', access: 'restricted' });
        await admin.put(`/api/workspaces/${ws.body.id}/members/${m.id}`, {
          canClaim: true,
          canCreate: false,
        });
        const before = await dbSnapshot(t.db);
        const res = await m.api.post('/api/tasks', {
          workspaceId: ws.body.id,
          title: 'Nope',
          prompt: 'Nope',
        });
        expectApiError(res, 403, 'forbidden');
        expectApiError(
          await m.api.post('/api/tasks', { workspaceId: 'no-create', title: 'Nope', prompt: 'Nope' }),
          403,
          'forbidden',
        );
        expect(await dbSnapshot(t.db)).toBe(before);
        expect((await admin.get(`/api/tasks?workspaceId=${ws.body.id}`)).body.items).toEqual([]);

        // Without any grant the workspace is not even visible: 404, and still nothing is created.
        const stranger = await member();
        const before2 = await dbSnapshot(t.db);
        expectApiError(
          await stranger.api.post('/api/tasks', { workspaceId: ws.body.id, title: 'Nope', prompt: 'Nope' }),
          404,
          'not_found',
        );
        expect(await dbSnapshot(t.db)).toBe(before2);

        // With the grant the same request works: the 403 was about the grant.
        await admin.put(`/api/workspaces/${ws.body.id}/members/${m.id}`, {
          canClaim: false,
          canCreate: true,
        });
        const ok = await m.api.post('/api/tasks', { workspaceId: ws.body.id, title: 'Yes', prompt: 'Yes' });
        expect(ok.status).toBe(201);
      });
    });

    describe("other accounts' objects answer 404", () => {
      it('a task in a restricted workspace the member cannot see', async () => {
        const m = await member();
        const ws = await admin.post('/api/workspaces', { name: 'secret-ws', access: 'restricted' });
        const task = await admin.post('/api/tasks', {
          workspaceId: ws.body.id,
          title: 'Secret',
          prompt: 'Hidden',
        });
        expect(task.status).toBe(201);
        const open = await admin.post('/api/workspaces', { name: 'open-for-deps' });
        const before = await dbSnapshot(t.db);

        for (const [method, path, body] of [
          ['GET', `/api/tasks/${task.body.id}`, undefined],
          ['GET', `/api/tasks/${task.body.id}/events`, undefined],
          ['PATCH', `/api/tasks/${task.body.id}`, { title: 'Mine now' }],
          ['POST', `/api/tasks/${task.body.id}/cancel`, {}],
          ['POST', `/api/tasks/${task.body.id}/retry`, {}],
          ['GET', `/api/workspaces/${ws.body.id}`, undefined],
          ['GET', '/api/workspaces/secret-ws', undefined],
          ['GET', `/api/tasks?workspaceId=${ws.body.id}`, undefined],
        ] as const) {
          const res = await m.api.call(method, path, body);
          expectApiError(res, 404, 'not_found');
          expect(JSON.stringify(res.body)).not.toContain('Hidden');
        }
        const list = await m.api.get('/api/tasks');
        expect(list.body.items.map((x: { id: string }) => x.id)).not.toContain(task.body.id);
        const wsList = await m.api.get('/api/workspaces');
        expect(wsList.body.items.map((w: { id: string }) => w.id)).not.toContain(ws.body.id);
        // Depending on a hidden task reads as "unknown task", like any id that does not exist.
        const dep = await m.api.post('/api/tasks', {
          workspaceId: open.body.id,
          title: 'After secret',
          prompt: 'x',
          dependsOn: [task.body.id],
        });
        expectApiError(dep, 400, 'validation_failed');
        expect(await dbSnapshot(t.db)).toBe(before);
        // And the admin still sees it all.
        expect((await admin.get(`/api/tasks/${task.body.id}`)).status).toBe(200);
      });

      it("another account's worker: GET, PATCH and events answer 404 and leave it alone", async () => {
        const owner = await member({ type: 'service' });
        const intruder = await member({ type: 'service' });
        const ws = await admin.post('/api/workspaces', { name: 'workers-ws' });
        const task = await admin.post('/api/tasks', { workspaceId: ws.body.id, title: 'Work', prompt: 'Do' });
        const claim = await owner.api.post('/api/workers/claim', {
          maxTasks: 1,
          authType: 'api',
          agentId: 'own',
        });
        expect(claim.body.workers).toHaveLength(1);
        const wid = claim.body.workers[0].id;
        expect(claim.body.workers[0].taskId).toBe(task.body.id);
        const before = await dbSnapshot(t.db);

        expectApiError(await intruder.api.get(`/api/workers/${wid}`), 404, 'not_found');
        expectApiError(
          await intruder.api.patch(`/api/workers/${wid}`, {
            status: 'completed',
            costUsd: 99,
            summary: 'pwned',
          }),
          404,
          'not_found',
        );
        expectApiError(
          await intruder.api.patch(`/api/workers/${wid}`, { status: 'cancelled' }),
          404,
          'not_found',
        );
        const ev = await intruder.api.post(`/api/workers/${wid}/events`, {
          events: [{ seq: 0, type: 'log', at: new Date().toISOString(), data: { text: 'fake' } }],
        });
        expectApiError(ev, 404, 'not_found');
        expect(await dbSnapshot(t.db)).toBe(before);

        // The task itself is in an open workspace, so it is visible, but not the other account's worker.
        const seen = await intruder.api.get(`/api/tasks/${task.body.id}`);
        expect(seen.status).toBe(200);
        expect(seen.body.workers).toEqual([]);
        // The holder and the admin do see it.
        expect((await owner.api.get(`/api/workers/${wid}`)).body.status).toBe('claimed');
        expect((await admin.get(`/api/workers/${wid}`)).status).toBe(200);
        expect((await owner.api.get(`/api/tasks/${task.body.id}`)).body.workers).toHaveLength(1);
        // The intruder's agents list does not show the owner's agent.
        const agents = await intruder.api.get('/api/agents');
        expect(agents.body.items.map((a: { accountId: string }) => a.accountId)).not.toContain(owner.id);
      });

      it("another account's record answers 404; your own answers 200", async () => {
        const a = await member();
        const b = await member();
        expectApiError(await a.api.get(`/api/accounts/${b.id}`), 404, 'not_found');
        const self = await a.api.get(`/api/accounts/${a.id}`);
        expect(self.status).toBe(200);
        expect(self.body.id).toBe(a.id);
      });
    });

    describe('API keys', () => {
      it('keys are stored only as a SHA-256 hash plus a short prefix, which is what gets shown', async () => {
        const made = [await member(), await member({ type: 'service' }), await member({ type: 'action' })];
        const extra = await admin.post(`/api/accounts/${made[1]!.id}/keys`, { name: 'ci' });
        const plain = [t.adminKey, ...made.map((m) => m.key), extra.body.apiKey as string];

        const rows = await t.db.query<Record<string, unknown>>('SELECT * FROM api_keys');
        const stored = JSON.stringify(rows);
        for (const key of plain) {
          const secret = key.replace(/^buildd_(user|svc|action)_/, '');
          expect(stored).not.toContain(key);
          expect(stored).not.toContain(secret);
          // Not even a long piece of the secret.
          expect(stored).not.toContain(secret.slice(4, 16));
          const row = rows.find((r) => r.key_hash === sha256(key));
          expect(row, `a row stores the hash of ${key.slice(0, 12)}…`).toBeDefined();
          expect(key.startsWith(String(row!.prefix))).toBe(true);
          expect(String(row!.prefix).length).toBeLessThanOrEqual(key.length - 32);
        }

        // What the API shows later: the prefix, never the key.
        const keys = await admin.get(`/api/accounts/${made[1]!.id}/keys`);
        expect(keys.body.items).toHaveLength(2);
        for (const k of keys.body.items) {
          expect(k.prefix).toMatch(/^buildd_svc_/);
          expect(JSON.stringify(k)).not.toContain(made[1]!.key.slice(11));
        }
        expect(JSON.stringify(keys.body)).not.toContain((extra.body.apiKey as string).slice(11));
        expect(extra.body.key.prefix).toBe(
          keys.body.items.find((k: { name: string }) => k.name === 'ci').prefix,
        );
        const me = await made[0]!.api.get('/api/me');
        expect(made[0]!.key.startsWith(me.body.keyPrefix)).toBe(true);
        expect(JSON.stringify(me.body)).not.toContain(made[0]!.key);
      });

      it('keys match buildd_(user|svc|action)_… by account type', async () => {
        const kinds = { user: 'user', service: 'svc', action: 'action' } as const;
        const seen = new Set<string>();
        for (const [type, kind] of Object.entries(kinds)) {
          const m = await member({ type });
          const pattern = new RegExp(`^buildd_${kind}_[0-9A-Za-z_-]{32,}$`);
          expect(m.key).toMatch(pattern);
          const another = await admin.post(`/api/accounts/${m.id}/keys`, {});
          expect(another.status).toBe(201);
          expect(another.body.apiKey).toMatch(pattern);
          expect(another.body.apiKey).not.toBe(m.key);
          seen.add(m.key).add(another.body.apiKey);
          // Each key works for its own account.
          expect((await apiClient(t.url, another.body.apiKey).get('/api/me')).body.account.id).toBe(m.id);
        }
        expect(seen.size).toBe(6);
      });
    });

    describe('public endpoints', () => {
      it('/api/openapi.json is served without auth and lists the claim path', async () => {
        const res = await apiClient(t.url).get('/api/openapi.json');
        expect(res.status).toBe(200);
        expect(res.body.openapi).toMatch(/^3\./);
        const claim = res.body.paths['/api/workers/claim'];
        expect(claim.post).toBeDefined();
        expect(claim.post.requestBody.content['application/json'].schema.properties).toHaveProperty(
          'maxTasks',
        );
        expect(res.body.paths['/api/workers/{id}'].patch).toBeDefined();
        expect(res.body.paths['/api/tasks'].post).toBeDefined();
      });

      it('/healthz answers without auth', async () => {
        const res = await apiClient(t.url).get('/healthz');
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ ok: true, engine });
      });
    });
  });

  describe('logs', () => {
    let server: RunningServer | undefined;
    let db: Awaited<ReturnType<typeof freshDb>> | undefined;
    const lines: string[] = [];
    afterAll(async () => {
      await server?.close();
      await db?.close();
    });

    it('never contain a plain API key, even at debug level', async () => {
      db = await freshDb(engine);
      const log = pino({ level: 'trace' }, { write: (s: string) => lines.push(s) });
      server = await startServer({
        db,
        log,
        host: '127.0.0.1',
        port: 0,
        leaseSeconds: 60,
        renewSeconds: 15,
        reapIntervalSeconds: 3600,
      });
      const adminKey = newApiKey('user');
      await ensureAdmin(db, adminKey);
      const admin = apiClient(server.url, adminKey);
      const m = await makeAccount(admin, server.url, { name: 'logged', type: 'service' });
      await admin.post('/api/workspaces', { name: 'log-ws' });
      await admin.post('/api/tasks', { workspaceId: 'log-ws', title: 't', prompt: 'p' });
      const claim = await m.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'x' });
      await m.api.patch(`/api/workers/${claim.body.workers[0].id}`, { status: 'failed', exitCause: 'sdk' });
      await apiClient(server.url, newApiKey('service')).get('/api/me');
      await apiClient(server.url, `${m.key}x`).get('/api/me');
      expect(lines.length).toBeGreaterThan(0);
      const all = lines.join('\n');
      for (const key of [adminKey, m.key]) {
        expect(all).not.toContain(key.replace(/^buildd_(user|svc|action)_/, '').slice(0, 16));
      }
    });
  });
});

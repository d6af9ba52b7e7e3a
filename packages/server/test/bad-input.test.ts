import { limits } from '@buildd/protocol';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient, makeAccount } from './support/api.ts';
import { dbSnapshot, expectApiError } from './support/checks.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

// Every bad request answers the JSON error shape with the right 4xx, never a 500, and changes nothing.
describe.each(await testEngines())('bad input on %s', (engine) => {
  const t = useTestServer({ engine }, 'file');
  const admin = t.admin;
  let agent: ApiClient;
  let wsId: string;
  let taskId: string;
  let workerId: string;
  let before: string;

  beforeAll(async () => {
    const ws = await admin.post('/api/workspaces', { name: 'bad-input' });
    wsId = ws.body.id;
    const task = await admin.post('/api/tasks', { workspaceId: wsId, title: 'Real task', prompt: 'Do it' });
    taskId = task.body.id;
    const svc = await makeAccount(admin, t.url, { name: 'svc', type: 'service' });
    agent = svc.api;
    const claim = await agent.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a1' });
    workerId = claim.body.workers[0].id;
    const events = await agent.post(`/api/workers/${workerId}/events`, {
      events: [{ seq: 0, type: 'log', at: new Date().toISOString(), data: { text: 'hello' } }],
    });
    expect(events.body).toEqual({ stored: 1, lastSeq: 0 });
  });
  beforeEach(async () => {
    before = await dbSnapshot(t.db);
  });
  const expectUnchanged = async () => expect(await dbSnapshot(t.db)).toBe(before);

  const validTask = () => ({ workspaceId: wsId, title: 'A title', prompt: 'A prompt' });

  describe('malformed JSON', () => {
    it.each([
      ['POST', '/api/tasks'],
      ['POST', '/api/accounts'],
      ['POST', '/api/workspaces'],
      ['POST', '/api/workers/claim'],
    ])('%s %s answers 400 invalid_json', async (method, path) => {
      for (const text of ['{"workspaceId": "x", ', '{title: "x"}', 'not json at all', '{"a":1}}']) {
        expectApiError(await admin.call(method, path, text), 400, 'invalid_json');
      }
      await expectUnchanged();
    });

    it('PATCH of a worker and an event batch answer 400 invalid_json and leave the worker alone', async () => {
      expectApiError(
        await agent.call('PATCH', `/api/workers/${workerId}`, '{"status": "completed"'),
        400,
        'invalid_json',
      );
      expectApiError(
        await agent.call('POST', `/api/workers/${workerId}/events`, '{"events": [}'),
        400,
        'invalid_json',
      );
      await expectUnchanged();
    });
  });

  describe('wrong types and missing fields', () => {
    it.each([
      ['title', { title: 42 }],
      ['title', { title: null }],
      ['prompt', { prompt: ['a'] }],
      ['priority', { priority: 'high' }],
      ['priority', { priority: 1.5 }],
      ['runnerPreference', { runnerPreference: 'robot' }],
      ['requiredCapabilities', { requiredCapabilities: 'docker' }],
      ['maxAttempts', { maxAttempts: 0 }],
      ['budgetUsd', { budgetUsd: -1 }],
      ['dependsOn', { dependsOn: [1, 2] }],
    ])('a task with a bad %s answers 400 naming the field', async (field, patch) => {
      const res = await admin.post('/api/tasks', { ...validTask(), ...patch });
      expectApiError(res, 400, 'validation_failed');
      expect(res.body.error.message).toContain(field);
      expect(res.body.error.details).toEqual(
        expect.arrayContaining([expect.objectContaining({ path: expect.stringContaining(field) })]),
      );
      await expectUnchanged();
    });

    it.each(['workspaceId', 'title', 'prompt'])(
      'a task without %s answers 400 naming the field',
      async (field) => {
        const body: Record<string, unknown> = validTask();
        delete body[field];
        const res = await admin.post('/api/tasks', body);
        expectApiError(res, 400, 'validation_failed');
        expect(res.body.error.message).toContain(field);
        await expectUnchanged();
      },
    );

    it('a body that is not an object answers 400', async () => {
      for (const body of ['[]', 'null', '"task"', '42']) {
        expectApiError(await admin.call('POST', '/api/tasks', body), 400, 'validation_failed');
      }
      await expectUnchanged();
    });

    it('an empty title (only spaces) is refused', async () => {
      const res = await admin.post('/api/tasks', { ...validTask(), title: '   ' });
      expectApiError(res, 400, 'validation_failed');
      expect(res.body.error.message).toContain('title');
      await expectUnchanged();
    });

    it('accounts: missing name, bad type, bad level, negative limits', async () => {
      const cases: [string, Record<string, unknown>][] = [
        ['name', { type: 'user' }],
        ['type', { name: 'x' }],
        ['type', { name: 'x', type: 'robot' }],
        ['level', { name: 'x', type: 'user', level: 'root' }],
        ['maxConcurrentWorkers', { name: 'x', type: 'user', maxConcurrentWorkers: -1 }],
        ['maxConcurrentSessions', { name: 'x', type: 'user', maxConcurrentSessions: 'two' }],
        ['maxCostPerDayUsd', { name: 'x', type: 'user', maxCostPerDayUsd: -5 }],
      ];
      for (const [field, body] of cases) {
        const res = await admin.post('/api/accounts', body);
        expectApiError(res, 400, 'validation_failed');
        expect(res.body.error.message).toContain(field);
      }
      await expectUnchanged();
    });

    it('workspaces: missing name, a name with spaces, a bad access, branch, GitHub repository or token', async () => {
      const cases: [string, Record<string, unknown>][] = [
        ['name', {}],
        ['name', { name: 'has spaces' }],
        ['access', { name: 'ok', access: 'public' }],
        ['defaultBranch', { name: 'ok', defaultBranch: 'bad branch;rm' }],
        ['maxRunningTasks', { name: 'ok', maxRunningTasks: 0 }],
        ['githubRepo', { name: 'ok', config: { githubRepo: 'not a repo' } }],
        ['githubToken', { name: 'ok', githubToken: 'ghp_with a space' }],
        ['draftPullRequests', { name: 'ok', config: { draftPullRequests: 'yes' } }],
      ];
      for (const [field, body] of cases) {
        const res = await admin.post('/api/workspaces', body);
        expectApiError(res, 400, 'validation_failed');
        expect(res.body.error.message).toContain(field);
      }
      await expectUnchanged();
    });

    it('claims: bad maxTasks, authType, capabilities or waitSeconds', async () => {
      const cases: [string, Record<string, unknown>][] = [
        ['maxTasks', { maxTasks: 0 }],
        ['maxTasks', { maxTasks: 'two' }],
        ['authType', { authType: 'password' }],
        ['capabilities', { capabilities: 'docker' }],
        ['waitSeconds', { waitSeconds: 31 }],
        ['workspaceIds', { workspaceIds: 'ws-1' }],
        ['excludeTaskIds', { excludeTaskIds: [1] }],
      ];
      for (const [field, body] of cases) {
        const res = await agent.post('/api/workers/claim', { agentId: 'a2', ...body });
        expectApiError(res, 400, 'validation_failed');
        expect(res.body.error.message).toContain(field);
      }
      await expectUnchanged();
    });

    it('worker PATCH: negative cost, an unknown exit cause or status, a fractional token count', async () => {
      const cases: [string, Record<string, unknown>][] = [
        ['costUsd', { costUsd: -1 }],
        ['exitCause', { exitCause: 'bored' }],
        ['status', { status: 'done' }],
        ['inputTokens', { inputTokens: 1.5 }],
        ['turns', { turns: '3' }],
      ];
      for (const [field, body] of cases) {
        const res = await agent.patch(`/api/workers/${workerId}`, body);
        expectApiError(res, 400, 'validation_failed');
        expect(res.body.error.message).toContain(field);
      }
      await expectUnchanged();
    });

    it('worker PATCH with status "lost" answers 400 and the worker stays live', async () => {
      const res = await agent.patch(`/api/workers/${workerId}`, { status: 'lost' });
      expectApiError(res, 400, 'validation_failed');
      await expectUnchanged();
      const w = await agent.get(`/api/workers/${workerId}`);
      expect(w.body.status).toBe('claimed');
    });

    it('numbers too large for the database answer 400, not 500', async () => {
      for (const body of [
        { turns: 2 ** 31 },
        { filesChanged: 2 ** 40 },
        { linesAdded: Number.MAX_SAFE_INTEGER },
      ]) {
        const res = await agent.patch(`/api/workers/${workerId}`, body);
        expectApiError(res, 400, 'validation_failed');
      }
      const seq = await agent.post(`/api/workers/${workerId}/events`, {
        events: [{ seq: 2 ** 31, type: 'log', at: new Date().toISOString(), data: {} }],
      });
      expectApiError(seq, 400, 'validation_failed');
      await expectUnchanged();
    });

    it('text the database cannot store (NUL characters) answers 400, not 500', async () => {
      expectApiError(
        await admin.post('/api/tasks', { ...validTask(), title: 'a\u0000b' }),
        400,
        'validation_failed',
      );
      expectApiError(
        await admin.post('/api/tasks', { ...validTask(), prompt: 'a\u0000b' }),
        400,
        'validation_failed',
      );
      expectApiError(
        await agent.patch(`/api/workers/${workerId}`, { currentAction: 'x\u0000' }),
        400,
        'validation_failed',
      );
      const ev = await agent.post(`/api/workers/${workerId}/events`, {
        events: [{ seq: 5, type: 'log', at: new Date().toISOString(), data: { text: 'nul \u0000 here' } }],
      });
      expectApiError(ev, 400, 'validation_failed');
      await expectUnchanged();
    });
  });

  describe('unknown fields where bodies are strict', () => {
    it('account, workspace and task creation refuse unknown fields, naming them', async () => {
      const cases: [string, Record<string, unknown>][] = [
        ['/api/accounts', { name: 'x', type: 'user', isRoot: true }],
        ['/api/workspaces', { name: 'strict-ws', owner: 'me' }],
        ['/api/workspaces', { name: 'strict-ws', config: { model: 'm', shell: 'rm -rf' } }],
        ['/api/tasks', { ...validTask(), status: 'completed' }],
        ['/api/tasks', { ...validTask(), createdBy: 'acc_someone' }],
      ];
      for (const [path, body] of cases) {
        const res = await admin.post(path, body);
        expectApiError(res, 400, 'validation_failed');
        const extra = Object.keys(body).find(
          (k) => !['name', 'type', 'workspaceId', 'title', 'prompt', 'config'].includes(k),
        );
        expect(res.body.error.message).toContain(extra ?? 'shell');
      }
      await expectUnchanged();
    });

    it('member grants refuse unknown fields and missing flags', async () => {
      const acc = (await admin.get('/api/accounts')).body.items[0].id;
      expectApiError(
        await admin.put(`/api/workspaces/${wsId}/members/${acc}`, { canClaim: true }),
        400,
        'validation_failed',
      );
      expectApiError(
        await admin.put(`/api/workspaces/${wsId}/members/${acc}`, {
          canClaim: true,
          canCreate: true,
          isAdmin: true,
        }),
        400,
        'validation_failed',
      );
      await expectUnchanged();
    });
  });

  describe('over-long strings and bodies', () => {
    it(`a title over ${limits.title} characters answers 400`, async () => {
      const res = await admin.post('/api/tasks', { ...validTask(), title: 'x'.repeat(limits.title + 1) });
      expectApiError(res, 400, 'validation_failed');
      expect(res.body.error.message).toContain('title');
      await expectUnchanged();
    });

    it(`a prompt over ${limits.prompt} characters answers 400`, async () => {
      const res = await admin.post('/api/tasks', { ...validTask(), prompt: 'y'.repeat(limits.prompt + 1) });
      expectApiError(res, 400, 'validation_failed');
      expect(res.body.error.message).toContain('prompt');
      await expectUnchanged();
    });

    it('a prompt of exactly the limit is accepted (the limit is where it says)', async () => {
      const res = await admin.post('/api/tasks', { ...validTask(), prompt: 'y'.repeat(limits.prompt) });
      expect(res.status).toBe(201);
      // Put the database back as it was for the snapshot.
      await admin.post(`/api/tasks/${res.body.id}/cancel`);
    });

    it('over-long names, errors and summaries answer 400', async () => {
      expectApiError(
        await admin.post('/api/accounts', { name: 'n'.repeat(limits.name + 1), type: 'user' }),
        400,
        'validation_failed',
      );
      expectApiError(
        await admin.post('/api/workspaces', { name: 'n'.repeat(limits.name + 1) }),
        400,
        'validation_failed',
      );
      expectApiError(
        await agent.patch(`/api/workers/${workerId}`, { summary: 's'.repeat(limits.text + 1) }),
        400,
        'validation_failed',
      );
      expectApiError(
        await agent.patch(`/api/workers/${workerId}`, { error: 'e'.repeat(limits.text + 1) }),
        400,
        'validation_failed',
      );
      await expectUnchanged();
    });

    it('a body over 1 MB answers 413 payload_too_large', async () => {
      const big = { ...validTask(), prompt: 'z'.repeat(1_200_000) };
      expectApiError(await admin.post('/api/tasks', big), 413, 'payload_too_large');
      const events = {
        events: [
          { seq: 9, type: 'log', at: new Date().toISOString(), data: { text: 'z'.repeat(1_200_000) } },
        ],
      };
      expectApiError(await agent.post(`/api/workers/${workerId}/events`, events), 413, 'payload_too_large');
      await expectUnchanged();
    });

    it('a body over 1 MB sent in chunks (no Content-Length) answers 413 too', async () => {
      const chunk = new TextEncoder().encode('z'.repeat(100_000));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(`{"workspaceId":"${wsId}","title":"t","prompt":"`));
        },
        pull(controller) {
          if (sent >= 12) {
            controller.enqueue(new TextEncoder().encode('"}'));
            controller.close();
            return;
          }
          sent++;
          controller.enqueue(chunk);
        },
      });
      const res = await fetch(`${t.url}/api/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      const body = await res.json();
      expectApiError({ status: res.status, body, headers: res.headers }, 413, 'payload_too_large');
      await expectUnchanged();
    });

    it('too many events in one batch, or none, answers 400', async () => {
      const at = new Date().toISOString();
      const many = Array.from({ length: limits.eventsPerBatch + 1 }, (_, i) => ({
        seq: 100 + i,
        type: 'log',
        at,
        data: {},
      }));
      expectApiError(
        await agent.post(`/api/workers/${workerId}/events`, { events: many }),
        400,
        'validation_failed',
      );
      expectApiError(
        await agent.post(`/api/workers/${workerId}/events`, { events: [] }),
        400,
        'validation_failed',
      );
      await expectUnchanged();
    });
  });

  describe('events', () => {
    it.each([
      ['at', { seq: 3, type: 'log', at: 'yesterday', data: {} }],
      ['at', { seq: 3, type: 'log', at: '2024-13-45T99:00:00Z', data: {} }],
      ['at', { seq: 3, type: 'log', at: 1700000000000, data: {} }],
      ['at', { seq: 3, type: 'log', data: {} }],
      ['seq', { seq: 1.5, type: 'log', at: new Date().toISOString(), data: {} }],
      ['seq', { seq: -1, type: 'log', at: new Date().toISOString(), data: {} }],
      ['seq', { seq: '3', type: 'log', at: new Date().toISOString(), data: {} }],
      ['type', { seq: 3, type: 'shell', at: new Date().toISOString(), data: {} }],
      ['data', { seq: 3, type: 'log', at: new Date().toISOString(), data: 'text' }],
    ])('an event with a bad %s answers 400 and stores nothing of its batch', async (field, bad) => {
      const good = { seq: 2, type: 'log', at: new Date().toISOString(), data: {} };
      const res = await agent.post(`/api/workers/${workerId}/events`, { events: [good, bad] });
      expectApiError(res, 400, 'validation_failed');
      expect(res.body.error.message).toContain(`events.1.${field}`);
      expect(res.body.error.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ path: expect.stringMatching(new RegExp(`^events\\.1\\.${field}`)) }),
        ]),
      );
      await expectUnchanged();
    });
  });

  describe('unknown ids and routes', () => {
    it('unknown task ids answer 404 on every task route', async () => {
      for (const [method, path] of [
        ['GET', '/api/tasks/task_nope'],
        ['PATCH', '/api/tasks/task_nope'],
        ['POST', '/api/tasks/task_nope/cancel'],
        ['POST', '/api/tasks/task_nope/retry'],
        ['GET', '/api/tasks/task_nope/events'],
      ] as const) {
        const res = await admin.call(
          method,
          path,
          method === 'GET' ? undefined : method === 'PATCH' ? { title: 'x' } : {},
        );
        expectApiError(res, 404, 'not_found');
        expect(res.body.error.message).toContain('task_nope');
      }
      await expectUnchanged();
    });

    it('unknown worker ids answer 404 on GET, PATCH and events', async () => {
      expectApiError(await admin.get('/api/workers/wkr_nope'), 404, 'not_found');
      expectApiError(await agent.get('/api/workers/wkr_nope'), 404, 'not_found');
      expectApiError(await agent.patch('/api/workers/wkr_nope', { status: 'running' }), 404, 'not_found');
      expectApiError(
        await agent.patch('/api/workers/wkr_nope', { status: 'completed', costUsd: 1 }),
        404,
        'not_found',
      );
      const ev = await agent.post('/api/workers/wkr_nope/events', {
        events: [{ seq: 0, type: 'log', at: new Date().toISOString(), data: {} }],
      });
      expectApiError(ev, 404, 'not_found');
      await expectUnchanged();
    });

    it('unknown workspaces answer 404 (by id and by name, and when a task names one)', async () => {
      expectApiError(await admin.get('/api/workspaces/ws-nope'), 404, 'not_found');
      expectApiError(await admin.get('/api/workspaces/no-such-name'), 404, 'not_found');
      expectApiError(
        await admin.patch('/api/workspaces/ws-nope', { access: 'restricted' }),
        404,
        'not_found',
      );
      expectApiError(await admin.get('/api/workspaces/ws-nope/members'), 404, 'not_found');
      const acc = (await admin.get('/api/accounts')).body.items[0].id;
      expectApiError(
        await admin.put(`/api/workspaces/ws-nope/members/${acc}`, { canClaim: true, canCreate: true }),
        404,
        'not_found',
      );
      expectApiError(
        await admin.post('/api/tasks', { ...validTask(), workspaceId: 'ws-nope' }),
        404,
        'not_found',
      );
      expectApiError(await admin.get('/api/tasks?workspaceId=ws-nope'), 404, 'not_found');
      await expectUnchanged();
    });

    it('unknown accounts answer 404', async () => {
      expectApiError(await admin.get('/api/accounts/acc_nope'), 404, 'not_found');
      expectApiError(await admin.patch('/api/accounts/acc_nope', { name: 'x' }), 404, 'not_found');
      expectApiError(await admin.post('/api/accounts/acc_nope/keys', {}), 404, 'not_found');
      expectApiError(await admin.get('/api/accounts/acc_nope/keys'), 404, 'not_found');
      expectApiError(
        await admin.put(`/api/workspaces/${wsId}/members/acc_nope`, { canClaim: true, canCreate: false }),
        404,
        'not_found',
      );
      await expectUnchanged();
    });

    it('unknown keys answer 404', async () => {
      expectApiError(await admin.del('/api/keys/key_nope'), 404, 'not_found');
      await expectUnchanged();
    });

    it('a task depending on an unknown task answers 400 and is not created', async () => {
      const res = await admin.post('/api/tasks', { ...validTask(), dependsOn: [taskId, 'task_nope'] });
      expectApiError(res, 400, 'validation_failed');
      expect(res.body.error.message).toContain('task_nope');
      await expectUnchanged();
    });

    it('unknown routes and methods answer a JSON 404', async () => {
      const res = await admin.get('/api/nothing-here');
      expectApiError(res, 404, 'not_found');
      expect(res.body.error.message).toContain('/api/nothing-here');
      expectApiError(await admin.del(`/api/tasks/${taskId}`), 404, 'not_found');
      expectApiError(await admin.call('PUT', '/api/workers/claim', {}), 404, 'not_found');
      expectApiError(await apiClient(t.url).call('POST', '/no/such/page'), 404, 'not_found');
      // A GET outside /api/ is a page of the dashboard (its index.html, or the sentence that it is not built).
      const page = await apiClient(t.url).get('/no/such/page');
      expect(page.headers.get('content-type')).toMatch(/^text\/(html|plain)/);
      await expectUnchanged();
    });
  });

  describe('query parameters', () => {
    it.each([
      ['status', '/api/tasks?status=bogus'],
      ['limit', '/api/tasks?limit=abc'],
      ['limit', '/api/tasks?limit=0'],
      ['limit', '/api/tasks?limit=100000'],
      ['limit', '/api/tasks?limit=2.5'],
      ['limit', '/api/accounts?limit=-1'],
      ['limit', '/api/workspaces?limit=x'],
      ['limit', `/api/tasks/TASK/events?limit=0`],
    ])('bad %s in %s answers 400', async (field, path) => {
      const res = await admin.get(path.replace('TASK', taskId));
      expectApiError(res, 400, 'validation_failed');
      expect(res.body.error.message).toContain(field);
      await expectUnchanged();
    });

    it('a good status filter still works (the 400 is about the value, not the parameter)', async () => {
      const res = await admin.get('/api/tasks?status=assigned');
      expect(res.status).toBe(200);
      expect(res.body.items.map((x: { id: string }) => x.id)).toEqual([taskId]);
    });
  });
});

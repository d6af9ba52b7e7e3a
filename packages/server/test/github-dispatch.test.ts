import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureAdmin } from '../src/bootstrap.ts';
import { newApiKey } from '../src/ids.ts';
import { type RunningServer, startServer } from '../src/server.ts';
import { type ApiClient, apiClient } from './support/api.ts';
import { freshDb, testEngines } from './support/engines.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: any;
}

/** A local stand-in for the GitHub REST endpoint, answering `status` and recording every request. */
async function fakeGitHub(status: number) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString();
    });
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(text),
      });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 204 ? undefined : JSON.stringify({ message: 'Server Error' }));
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    /** Resolves once `n` requests have arrived. */
    async waitFor(n: number) {
      while (received.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const token = 'ghp_DispatchTestToken0123456789abcdefghij';

describe.each(await testEngines())('repository_dispatch for action tasks on %s', (engine) => {
  let server: RunningServer;
  let db: Awaited<ReturnType<typeof freshDb>>;
  let admin: ApiClient;
  let github: Awaited<ReturnType<typeof fakeGitHub>>;
  let logs: string;

  async function start(status: number) {
    github = await fakeGitHub(status);
    db = await freshDb(engine);
    const sink = new PassThrough();
    logs = '';
    sink.on('data', (c: Buffer) => {
      logs += c.toString();
    });
    server = await startServer({
      db,
      log: pino({ level: 'info' }, sink),
      host: '127.0.0.1',
      port: 0,
      leaseSeconds: 60,
      renewSeconds: 15,
      reapIntervalSeconds: 3600,
      github: { apiUrl: github.url, token },
    });
    const adminKey = newApiKey('user');
    await ensureAdmin(db, adminKey);
    admin = apiClient(server.url, adminKey);
  }
  beforeEach(() => {
    logs = '';
  });
  afterEach(async () => {
    await server?.close();
    await db?.close();
    await github?.close();
  });

  it('starts the workflow for a task that prefers action runners, and only for those', async () => {
    await start(204);
    const ws = await admin.post('/api/workspaces', { name: 'gh', config: { githubRepo: 'acme/widgets' } });
    expect(ws.status).toBe(201);
    expect(ws.body.config.githubRepo).toBe('acme/widgets');
    expect((await admin.post('/api/workspaces', { name: 'plain' })).status).toBe(201);
    const task = (body: Record<string, unknown>) =>
      admin.post('/api/tasks', { title: 't', prompt: 'p', ...body });

    expect((await task({ workspaceId: 'gh' })).status).toBe(201);
    expect((await task({ workspaceId: 'gh', runnerPreference: 'service' })).status).toBe(201);
    expect((await task({ workspaceId: 'plain', runnerPreference: 'action' })).status).toBe(201);
    const action = await task({ workspaceId: 'gh', runnerPreference: 'action' });
    expect(action.status).toBe(201);

    await github.waitFor(1);
    expect(github.received).toHaveLength(1);
    const [call] = github.received;
    expect(call).toMatchObject({ method: 'POST', url: '/repos/acme/widgets/dispatches' });
    expect(call!.headers.authorization).toBe(`Bearer ${token}`);
    expect(call!.headers.accept).toBe('application/vnd.github+json');
    expect(call!.body).toEqual({
      event_type: 'buildd-task',
      client_payload: { taskId: action.body.id, workspaceId: ws.body.id },
    });

    // A workspace with a GitHub token of its own dispatches with that one.
    const ownToken = 'ghp_WorkspaceOwnToken0123456789abcdefgh';
    const own = await admin.post('/api/workspaces', {
      name: 'own',
      config: { githubRepo: 'acme/gadgets' },
      githubToken: ownToken,
    });
    expect(own.body.hasGithubToken).toBe(true);
    expect((await task({ workspaceId: 'own', runnerPreference: 'action' })).status).toBe(201);
    await github.waitFor(2);
    expect(github.received[1]).toMatchObject({ url: '/repos/acme/gadgets/dispatches' });
    expect(github.received[1]!.headers.authorization).toBe(`Bearer ${ownToken}`);
  });

  it('creates the task all the same when GitHub fails, and logs why without the token', async () => {
    await start(500);
    expect(
      (await admin.post('/api/workspaces', { name: 'gh', config: { githubRepo: 'acme/widgets' } })).status,
    ).toBe(201);
    const created = await admin.post('/api/tasks', {
      workspaceId: 'gh',
      title: 't',
      prompt: 'p',
      runnerPreference: 'action',
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('pending');
    // A 500 is transient: tried three times in all, then given up.
    await github.waitFor(3);
    while (!logs.includes('could not start the GitHub Actions worker')) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const line = JSON.parse(logs.split('\n').find((l) => l.includes('could not start'))!);
    expect(line).toMatchObject({ level: 40, task: created.body.id, repo: 'acme/widgets', status: 500 });
    expect(logs).not.toContain(token);
    expect((await admin.get(`/api/tasks/${created.body.id}`)).body.status).toBe('pending');
  });

  it('refuses a githubRepo that is not owner/name', async () => {
    await start(204);
    const bad = await admin.post('/api/workspaces', { name: 'gh', config: { githubRepo: 'not a repo' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('owner/name');
  });
});

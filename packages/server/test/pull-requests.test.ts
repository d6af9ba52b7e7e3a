import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureAdmin } from '../src/bootstrap.ts';
import type { PullRequestSettings } from '../src/github/pull-request-sender.ts';
import { newApiKey } from '../src/ids.ts';
import { SecretKeys } from '../src/secrets/secret-keys.ts';
import { type RunningServer, startServer } from '../src/server.ts';
import { type ApiClient, apiClient, makeAccount } from './support/api.ts';
import { freshDb, testEngines } from './support/engines.ts';

interface Received {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  body: any;
}

interface FakePull {
  number: number;
  head: string;
  base: string;
  title: string;
  body: string;
  draft: boolean;
  state: 'open' | 'closed';
  html_url: string;
}

/**
 * A local stand-in for the GitHub pull request endpoints the server uses (list by head, create, update),
 * keeping its pull requests like GitHub does (422 for a second open one on a head), or answering
 * `failWith` to everything.
 */
async function fakeGitHub() {
  const received: Received[] = [];
  const pulls: FakePull[] = [];
  const waiters: (() => void)[] = [];
  const state = { failWith: undefined as number | undefined, hang: false };
  const answer = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, text: string, res: import('node:http').ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = text ? JSON.parse(text) : undefined;
    received.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
      body,
    });
    if (state.hang) return; // never answers (the server's time-out or shutdown ends the call)
    if (state.failWith) return answer(res, state.failWith, { message: 'Server Error' });
    const m = /^\/repos\/([^/]+)\/([^/]+)\/pulls(?:\/(\d+))?$/.exec(url.pathname);
    if (!m) return answer(res, 404, { message: 'Not Found' });
    const [, owner, repo, number] = m;
    if (req.method === 'GET' && !number) {
      const head = url.searchParams.get('head') ?? '';
      const found = pulls.filter((p) => `${owner}:${p.head}` === head && p.state === 'open');
      return answer(res, 200, found);
    }
    if (req.method === 'POST' && !number) {
      if (pulls.some((p) => p.head === body.head && p.state === 'open')) {
        return answer(res, 422, {
          message: 'Validation Failed',
          errors: [{ message: 'A pull request already exists' }],
        });
      }
      const n = pulls.length + 1;
      const pr: FakePull = {
        ...body,
        number: n,
        state: 'open',
        html_url: `https://github.example/${owner}/${repo}/pull/${n}`,
      };
      pulls.push(pr);
      return answer(res, 201, pr);
    }
    const pr = pulls.find((p) => p.number === Number(number));
    if (req.method === 'PATCH' && pr) {
      Object.assign(pr, body);
      return answer(res, 200, pr);
    }
    return answer(res, 404, { message: 'Not Found' });
  };
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString();
    });
    req.on('end', () => {
      handle(req, text, res);
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    pulls,
    state,
    /** Resolves once a request matching `test` has arrived. */
    async waitFor(test: (r: Received) => boolean) {
      while (!received.some(test)) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const workspaceToken = `ghp_${randomBytes(18).toString('hex')}`;
const serverToken = `ghp_${randomBytes(18).toString('hex')}`;
const publicUrl = 'https://buildd.example.com';
const quickRetries: Partial<PullRequestSettings> = { retryBaseMs: 20, maxAttempts: 3, pollMs: 200 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(await testEngines())('pull requests on %s', (engine) => {
  let servers: RunningServer[] = [];
  let db: Awaited<ReturnType<typeof freshDb>> | undefined;
  let github: Awaited<ReturnType<typeof fakeGitHub>> | undefined;
  let logs = '';
  let adminKey: string | undefined;
  const key = randomBytes(32);

  /** A real server on port 0 over the test's database (made once), GitHub being the fake. */
  async function start(
    opts: { serverWideToken?: boolean; pullRequests?: Partial<PullRequestSettings>; keys?: SecretKeys } = {},
  ) {
    github ??= await fakeGitHub();
    db ??= await freshDb(engine);
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => {
      logs += c.toString();
    });
    const server = await startServer({
      db,
      log: pino({ level: 'info' }, sink),
      host: '127.0.0.1',
      port: 0,
      leaseSeconds: 60,
      renewSeconds: 15,
      reapIntervalSeconds: 3600,
      githubApiUrl: github.url,
      github: opts.serverWideToken ? { apiUrl: github.url, token: serverToken } : undefined,
      publicUrl,
      secretKeys: opts.keys ?? new SecretKeys(key),
      pullRequests: { ...quickRetries, ...opts.pullRequests },
    });
    servers.push(server);
    // The same admin across restarts (a second start finds the first admin and makes none).
    adminKey ??= newApiKey('user');
    await ensureAdmin(db, adminKey);
    const admin = apiClient(server.url, adminKey);
    const agent = await makeAccount(admin, server.url, { type: 'service' });
    return { server, admin, agent: agent.api };
  }

  afterEach(async () => {
    for (const s of servers) await s.close();
    servers = [];
    await db?.close();
    db = undefined;
    await github?.close();
    github = undefined;
    logs = '';
    adminKey = undefined;
  });

  /** Claims the task as agent `agentId` and completes it with a pushed branch, as buildd-agent reports it. */
  async function runToCompletion(agent: ApiClient, agentId: string, summary: string) {
    const claim = await agent.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId });
    expect(claim.body.workers).toHaveLength(1);
    const w = claim.body.workers[0];
    expect((await agent.patch(`/api/workers/${w.id}`, { status: 'running' })).status).toBe(200);
    const done = await agent.patch(`/api/workers/${w.id}`, {
      status: 'completed',
      summary,
      branch: w.branch,
      commitSha: randomBytes(20).toString('hex'),
      filesChanged: 1,
      linesAdded: 3,
      linesRemoved: 0,
    });
    expect(done.status).toBe(200);
    return w as { id: string; branch: string; taskId: string };
  }

  /** The task once `test` holds for it (the pull request is worked on after the PATCH answered). */
  async function taskWhen(admin: ApiClient, id: string, test: (task: any) => boolean) {
    for (;;) {
      const task = (await admin.get(`/api/tasks/${id}`)).body;
      if (test(task)) return task;
      await sleep(50);
    }
  }

  it('opens a draft pull request with the workspace token, and a follow-up updates the same one', async () => {
    const { admin, agent } = await start();
    const ws = await admin.post('/api/workspaces', {
      name: 'gh',
      defaultBranch: 'trunk',
      config: { githubRepo: 'acme/widgets' },
      githubToken: workspaceToken,
    });
    expect(ws.status).toBe(201);
    expect(ws.body.hasGithubToken).toBe(true);
    const task = await admin.post('/api/tasks', { workspaceId: 'gh', title: 'Add a README', prompt: 'p' });

    const first = await runToCompletion(agent, 'a1', 'Wrote README.md with install steps.');
    // The PATCH answered before GitHub was called; the task is completed whatever GitHub does.
    expect((await admin.get(`/api/tasks/${task.body.id}`)).body.status).toBe('completed');
    const opened = await taskWhen(admin, task.body.id, (t) => t.pullRequest?.state === 'open');

    const create = github!.received.filter((r) => r.method === 'POST');
    expect(create).toHaveLength(1);
    expect(create[0]!.path).toBe('/repos/acme/widgets/pulls');
    expect(create[0]!.authorization).toBe(`Bearer ${workspaceToken}`);
    expect(create[0]!.body).toMatchObject({
      title: 'Add a README',
      head: first.branch,
      base: 'trunk',
      draft: true,
    });
    expect(create[0]!.body.body).toContain('Wrote README.md with install steps.');
    expect(create[0]!.body.body).toContain(`${publicUrl}/tasks/${task.body.id}`);
    expect(github!.pulls).toHaveLength(1);
    expect(opened.status).toBe('completed');
    expect(opened.result.prUrl).toBe(github!.pulls[0]!.html_url);
    expect(opened.pullRequest).toMatchObject({
      state: 'open',
      number: 1,
      error: null,
      url: opened.result.prUrl,
    });

    // A follow-up: a new attempt on the same branch, by another agent; the same pull request is updated.
    expect(
      (await admin.post(`/api/tasks/${task.body.id}/messages`, { text: 'Add a licence too' })).status,
    ).toBe(202);
    const second = await runToCompletion(agent, 'a2', 'Added LICENSE as well.');
    expect(second.branch).toBe(first.branch);
    await github!.waitFor((r) => r.method === 'PATCH');
    const updated = await taskWhen(
      admin,
      task.body.id,
      (t) =>
        t.pullRequest?.state === 'open' &&
        t.status === 'completed' &&
        t.result.summary === 'Added LICENSE as well.',
    );
    expect(github!.received.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(github!.pulls).toHaveLength(1);
    expect(github!.pulls[0]!.body).toContain('Added LICENSE as well.');
    expect(updated.result.prUrl).toBe(github!.pulls[0]!.html_url);
  });

  it('updates a pull request already open for the branch instead of opening a second one', async () => {
    const { admin, agent } = await start({ serverWideToken: true });
    // No token of its own: the server-wide BUILDD_GITHUB_TOKEN is used; not a draft.
    await admin.post('/api/workspaces', {
      name: 'gh',
      config: { githubRepo: 'acme/widgets', draftPullRequests: false },
    });
    const task = await admin.post('/api/tasks', { workspaceId: 'gh', title: 'Fix the build', prompt: 'p' });
    const claim = await agent.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a1' });
    const w = claim.body.workers[0];
    // As if an earlier server opened it and died before recording GitHub's answer.
    github!.pulls.push({
      number: 1,
      head: w.branch,
      base: 'main',
      title: 'old title',
      body: 'old body',
      draft: false,
      state: 'open',
      html_url: 'https://github.example/acme/widgets/pull/1',
    });
    await agent.patch(`/api/workers/${w.id}`, {
      status: 'completed',
      summary: 'The build is green again.',
      branch: w.branch,
      commitSha: 'abc123',
    });
    const done = await taskWhen(admin, task.body.id, (t) => t.pullRequest?.state === 'open');
    expect(github!.received.filter((r) => r.method === 'POST')).toHaveLength(0);
    expect(github!.received.every((r) => r.authorization === `Bearer ${serverToken}`)).toBe(true);
    expect(github!.pulls).toHaveLength(1);
    expect(github!.pulls[0]).toMatchObject({ title: 'Fix the build', draft: false });
    expect(done.result.prUrl).toBe('https://github.example/acme/widgets/pull/1');
  });

  it('leaves the task completed with the error on it when GitHub answers 500, and logs no token', async () => {
    const { admin, agent } = await start();
    await admin.post('/api/workspaces', {
      name: 'gh',
      config: { githubRepo: 'acme/widgets' },
      githubToken: workspaceToken,
    });
    github!.state.failWith = 500;
    const task = await admin.post('/api/tasks', { workspaceId: 'gh', title: 't', prompt: 'p' });
    await runToCompletion(agent, 'a1', 'done');
    const failed = await taskWhen(admin, task.body.id, (t) => t.pullRequest?.state === 'failed');
    expect(failed.status).toBe('completed');
    expect(failed.exitCause).toBe('completed');
    expect(failed.pullRequest.error).toContain('GitHub answered 500');
    expect(failed.pullRequest.attempts).toBe(quickRetries.maxAttempts);
    expect(failed.result.prUrl).toBeNull();
    // Each attempt got as far as its first call; retried, then given up.
    expect(github!.received).toHaveLength(quickRetries.maxAttempts!);
    expect(logs).toContain('pull request not opened; trying again later');
    expect(logs).toContain('pull request not opened; gave up');
    expect(logs).not.toContain(workspaceToken);
  });

  it('opens the pull request a stopped server left unopened, when the next one starts', async () => {
    const first = await start();
    await first.admin.post('/api/workspaces', {
      name: 'gh',
      config: { githubRepo: 'acme/widgets' },
      githubToken: workspaceToken,
    });
    github!.state.hang = true;
    const task = await first.admin.post('/api/tasks', { workspaceId: 'gh', title: 'Later', prompt: 'p' });
    await runToCompletion(first.agent, 'a1', 'done');
    // The server stops while GitHub has not answered its first call.
    await github!.waitFor(() => true);
    await first.server.close();
    servers = [];
    expect(github!.pulls).toHaveLength(0);
    const [row] = await db!.query<{ state: string; locked_until: Date | null }>(
      'SELECT state, locked_until FROM pull_requests',
    );
    expect(row).toMatchObject({ state: 'pending', locked_until: null });

    github!.state.hang = false;
    const next = await start();
    const opened = await taskWhen(next.admin, task.body.id, (t) => t.pullRequest?.state === 'open');
    expect(github!.pulls).toHaveLength(1);
    expect(github!.pulls[0]!.title).toBe('Later');
    expect(opened.result.prUrl).toBe(github!.pulls[0]!.html_url);
    expect(opened.pullRequest).toMatchObject({ error: null, attempts: 1 });
  });

  it('never returns the token nor stores it in plain text; only admins set it; bad input is 400', async () => {
    const { server, admin } = await start();
    const created = await admin.post('/api/workspaces', {
      name: 'gh',
      config: { githubRepo: 'acme/widgets' },
      githubToken: workspaceToken,
    });
    expect(created.status).toBe(201);
    const answers = [
      created,
      await admin.get('/api/workspaces/gh'),
      await admin.get('/api/workspaces'),
      await admin.patch('/api/workspaces/gh', { config: { githubRepo: 'acme/gadgets' } }),
      await admin.get('/api/openapi.json'),
    ];
    for (const a of answers) expect(JSON.stringify(a.body)).not.toContain(workspaceToken);
    expect(answers[1]!.body.hasGithubToken).toBe(true);
    expect(answers[2]!.body.items[0].hasGithubToken).toBe(true);

    const [row] = await db!.query<{ sealed: string; whole: string }>(
      'SELECT github_token_sealed AS sealed, row_to_json(w)::text AS whole FROM workspaces w',
    );
    expect(row!.sealed).not.toContain(workspaceToken);
    expect(row!.whole).not.toContain(workspaceToken);
    // Encrypted with the server's key: that key opens it, another does not.
    expect(new SecretKeys(key).open(row!.sealed)).toBe(workspaceToken);
    expect(() => SecretKeys.ephemeral().open(row!.sealed)).toThrow(/does not have/);
    const changes = await db!.query<{ all: string }>(
      "SELECT COALESCE(string_agg(data::text, ''), '') AS all FROM changes",
    );
    expect(changes[0]!.all).not.toContain(workspaceToken);

    const member = await makeAccount(admin, server.url, { name: 'member', type: 'user', level: 'member' });
    const denied = await member.api.patch('/api/workspaces/gh', { githubToken: 'ghp_mine' });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('forbidden');
    expect((await member.api.post('/api/workspaces', { name: 'x', githubToken: 'ghp_mine' })).status).toBe(
      403,
    );

    for (const body of [
      { githubToken: 'two words' },
      { githubToken: '' },
      { githubToken: 42 },
      { config: { githubRepo: 'not a repo' } },
      { config: { githubRepo: 'acme/widgets', draftPullRequests: 'yes' } },
    ]) {
      const bad = await admin.patch('/api/workspaces/gh', body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.error.code).toBe('validation_failed');
    }
    expect(
      new SecretKeys(key).open(
        (await db!.query<{ s: string }>('SELECT github_token_sealed AS s FROM workspaces'))[0]!.s,
      ),
    ).toBe(workspaceToken);

    const removed = await admin.patch('/api/workspaces/gh', { githubToken: null });
    expect(removed.body.hasGithubToken).toBe(false);
    expect((await db!.query('SELECT 1 FROM workspaces WHERE github_token_sealed IS NOT NULL')).length).toBe(
      0,
    );
  });

  it('re-encrypts tokens with a new key during a rotation, and shows a lost key on the task', async () => {
    const first = await start();
    await first.admin.post('/api/workspaces', {
      name: 'gh',
      config: { githubRepo: 'acme/widgets' },
      githubToken: workspaceToken,
    });
    const sealed = async () =>
      (await db!.query<{ s: string }>('SELECT github_token_sealed AS s FROM workspaces'))[0]!.s;
    const before = await sealed();
    await first.server.close();
    servers = [];

    // BUILDD_SECRET_KEY=new, BUILDD_SECRET_KEYS_OLD=old: sealed again under the new key at start.
    const newKey = randomBytes(32);
    const second = await start({ keys: new SecretKeys(newKey, [key]) });
    const after = await sealed();
    expect(after).not.toBe(before);
    expect(new SecretKeys(newKey).open(after)).toBe(workspaceToken);
    const task = await second.admin.post('/api/tasks', { workspaceId: 'gh', title: 'Rotated', prompt: 'p' });
    await runToCompletion(second.agent, 'a1', 'done');
    await taskWhen(second.admin, task.body.id, (t) => t.pullRequest?.state === 'open');
    expect(github!.received.at(-1)!.authorization).toBe(`Bearer ${workspaceToken}`);
    await second.server.close();
    servers = [];

    // A server that lacks the key (lost, or not given): the pull request fails at once, saying why.
    const third = await start({ keys: SecretKeys.ephemeral() });
    const calls = github!.received.length;
    expect(logs).toContain("a workspace's GitHub token cannot be decrypted");
    await third.admin.post(`/api/tasks/${task.body.id}/messages`, { text: 'once more' });
    await runToCompletion(third.agent, 'a2', 'again');
    const failed = await taskWhen(third.admin, task.body.id, (t) => t.pullRequest?.state === 'failed');
    expect(failed.status).toBe('completed');
    expect(failed.pullRequest.error).toMatch(/server key [0-9a-f]{8}, which this server does not have/);
    expect(failed.pullRequest.attempts).toBe(1);
    expect(github!.received.length).toBe(calls);
    // The link to the pull request opened before stays.
    expect(failed.result.prUrl).toBe(github!.pulls[0]!.html_url);
  });
});

/**
 * `buildd` as a real process against a real buildd server (real HTTP on 127.0.0.1, port 0, a fresh
 * database): logging in, creating and listing, JSON for scripts, exit codes, and the sentences for a
 * wrong key, an unreachable server and an incompatible one.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../../../bench/spawn-server.ts';
import { SecretKeys } from '../../server/src/secrets/secret-keys.ts';
import { type ApiClient, apiClient, makeAccount } from '../../server/test/support/api.ts';
import { testEngines } from '../../server/test/support/engines.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { cliHome, cliJson, runCli, startCli } from './support/cli.ts';

// Each test runs the CLI as a process several times; on a loaded machine one start takes seconds.
vi.setConfig({ testTimeout: 240_000 });

/** A tiny HTTP server answering every request with `status`, `headers` and `body`. */
async function fakeServer(status: number, headers: Record<string, string>, body: string): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

// The CLI only speaks HTTP: one engine is enough here (the server's own suite, the watch and MCP tests run both).
describe.each((await testEngines()).slice(0, 1))('buildd CLI on %s', (engine) => {
  let t: TestServer;
  let admin: ApiClient;
  /** Flags that point a CLI run at the test server with the admin key. */
  let as: (key: string) => Record<string, string>;
  /** The server's key for stored GitHub tokens, so a test can check which token was stored. */
  const secretKeys = new SecretKeys(randomBytes(32));

  beforeAll(async () => {
    t = await startTestServer({ engine, secretKeys });
    admin = apiClient(t.url, t.adminKey);
    as = (key) => ({ ...cliHome().env, BUILDD_SERVER: t.url, BUILDD_API_KEY: key });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('logs in (verified with the server), saves a 0600 config, and logs out', async () => {
    const { env, configDir } = cliHome();
    const wrong = await runCli(
      ['login', '--server', t.url, '--api-key', `buildd_user_${'x'.repeat(43)}`],
      env,
    );
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain(`The server at ${t.url} does not accept the API key buildd_user_xxxx…`);
    expect(wrong.stderr).not.toContain('x'.repeat(20));
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
    expect(() => statSync(join(configDir, 'config.json'))).toThrow();

    const ok = await runCli(['login', '--server', t.url, '--api-key', t.adminKey], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Logged in to ${t.url} as admin (admin, user account`);
    expect(ok.stdout).not.toContain(t.adminKey);
    const file = join(configDir, 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ server: t.url, apiKey: t.adminKey });

    // Later commands use the saved server and key.
    const status = await cliJson(['status'], env);
    expect(status).toMatchObject({
      server: t.url,
      apiVersion: '1',
      account: { name: 'admin', level: 'admin' },
    });

    expect((await runCli(['logout'], env)).code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ server: t.url });
    const after = await runCli(['task', 'list'], env);
    expect(after.code).toBe(3);
    expect(after.stderr).toContain('No API key: pass --api-key, set BUILDD_API_KEY or run `buildd login`.');
  });

  it('keeps what other tools wrote in the config file and lets flags beat the environment', async () => {
    const { env, configDir } = cliHome();
    const file = join(configDir, 'config.json');
    await runCli(['login'], { ...env, BUILDD_SERVER: t.url, BUILDD_API_KEY: t.adminKey });
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), agentName: 'laptop' }));
    await runCli(['login', '--server', t.url, '--api-key', t.adminKey], env);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ agentName: 'laptop', apiKey: t.adminKey });
    // A wrong key in the environment loses to the flag.
    const me = await cliJson(['status', '--api-key', t.adminKey], {
      ...env,
      BUILDD_API_KEY: 'buildd_user_nope',
    });
    expect(me.account.name).toBe('admin');
  });

  it('creates tasks from arguments, a file and stdin with every field, and lists them as JSON and tables', async () => {
    const env = as(t.adminKey);
    const ws = await cliJson(['workspace', 'create', 'cli-tasks', '--max-turns', '7'], env);
    expect(ws).toMatchObject({ name: 'cli-tasks', access: 'open', config: { maxTurns: 7 } });
    const dep = await cliJson(['task', 'create', '-w', 'cli-tasks', 'First', 'do', 'this'], env);
    expect(dep).toMatchObject({ title: 'First do this', prompt: 'First do this', status: 'pending' });

    const created = await cliJson(
      [
        'task',
        'create',
        '--workspace=cli-tasks',
        '--title',
        'Fix the build',
        '--priority',
        '5',
        '--runner',
        'service',
        '-c',
        'node',
        '-c',
        'git,docker',
        '--depends-on',
        dep.id,
        '--max-attempts',
        '2',
        '--budget',
        '1.5',
        '--max-turns',
        '12',
        '--model',
        'claude-sonnet-4-5',
        'Make',
        'npm test pass',
      ],
      env,
    );
    expect(created).toMatchObject({
      title: 'Fix the build',
      prompt: 'Make npm test pass',
      priority: 5,
      runnerPreference: 'service',
      requiredCapabilities: ['node', 'git', 'docker'],
      dependsOn: [dep.id],
      maxAttempts: 2,
      budgetUsd: 1.5,
      maxTurns: 12,
      model: 'claude-sonnet-4-5',
    });

    const { home, env: other } = cliHome();
    const promptFile = join(home, 'prompt.md');
    writeFileSync(promptFile, '# Write the docs\n\nAll of them.\n');
    const fromFile = await cliJson(['task', 'create', '-w', 'cli-tasks', '-f', promptFile], {
      ...env,
      ...other,
    });
    expect(fromFile).toMatchObject({
      title: '# Write the docs',
      prompt: '# Write the docs\n\nAll of them.\n',
    });
    const fromStdin = await cliJson(
      ['task', 'create', '-w', 'cli-tasks'],
      env,
      'Prompt from a pipe\nline two\n',
    );
    expect(fromStdin).toMatchObject({
      title: 'Prompt from a pipe',
      prompt: 'Prompt from a pipe\nline two\n',
    });
    const quiet = await runCli(['task', 'create', '-q', '-w', 'cli-tasks', 'quiet one'], env);
    expect(quiet.stdout.trim()).toMatch(/^\S+$/);

    const list = await cliJson(['task', 'list', '-w', 'cli-tasks'], env);
    expect(list.items.map((x: { id: string }) => x.id)).toEqual([
      quiet.stdout.trim(),
      fromStdin.id,
      fromFile.id,
      created.id,
      dep.id,
    ]);
    const table = await runCli(['task', 'list', '--workspace', 'cli-tasks', '--status', 'pending'], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+PRI\s+WORKSPACE\s+AGE\s+COST\s+TITLE$/);
    expect(lines).toHaveLength(6);
    expect(table.stdout).toMatch(new RegExp(`${created.id}\\s+pending\\s+5\\s+cli-tasks\\s+.*Fix the build`));
    expect(table.stdout).not.toContain('\u001b['); // no colour into a pipe

    const shown = await cliJson(['task', 'show', created.id], env);
    expect(shown).toMatchObject({ id: created.id, workers: [] });
    const human = await runCli(['task', 'show', created.id], env);
    expect(human.stdout).toContain(`Task ${created.id}  pending`);
    expect(human.stdout).toContain('node, git, docker');

    const cancelled = await cliJson(['task', 'cancel', created.id], env);
    expect(cancelled.status).toBe('cancelled');
    const retried = await cliJson(['task', 'retry', created.id], env);
    expect(retried.status).toBe('pending');
  });

  it('refuses wrong flags with exit 2 and a sentence naming the flag, before anything reaches the server', async () => {
    const env = as(t.adminKey);
    await admin.post('/api/workspaces', { name: 'cli-flags' });
    const before = (await admin.get('/api/tasks?workspaceId=cli-flags')).body.items.length;
    const cases: [string[], RegExp][] = [
      [
        ['task', 'create', '-w', 'cli-flags', '--priority', 'high', 'x'],
        /--priority <n>' argument 'high' is invalid/,
      ],
      [['task', 'create', '-w', 'cli-flags', '--priority', '5000', 'x'], /^buildd: --priority: .*1000/m],
      [['task', 'create', '-w', 'cli-flags', '--runner', 'robot', 'x'], /--runner.*robot.*Allowed choices/s],
      [['task', 'create', '-w', 'cli-flags', '--max-turns', '0', 'x'], /^buildd: --max-turns: /m],
      [
        ['task', 'create', '-w', 'cli-flags', '-f', '/no/such/file'],
        /--file: cannot read \/no\/such\/file \(ENOENT\)/,
      ],
      [['task', 'create', '-w', 'cli-flags'], /No prompt: pass it as arguments/],
      [['task', 'frobnicate'], /unknown command 'frobnicate'/],
      [['task', 'show'], /missing required argument 'id'/],
      [['workspace', 'create', 'bad name!'], /name: a workspace name may hold/],
      [
        ['task', 'list', '--server', 'ftp://example'],
        /"ftp:\/\/example" is not an http:\/\/ or https:\/\/ URL/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, env);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await admin.get('/api/tasks?workspaceId=cli-flags')).body.items).toHaveLength(before);
  });

  it('says in distinct sentences when the server is unreachable, speaks another API version or is not buildd', async () => {
    const port = await freePort();
    const down = await runCli(['task', 'list'], {
      ...as(t.adminKey),
      BUILDD_SERVER: `http://127.0.0.1:${port}`,
    });
    expect(down.code).toBe(4);
    expect(down.stderr).toContain(
      `Cannot reach the buildd server at http://127.0.0.1:${port} (nothing is listening there): is it running?`,
    );

    const newer = await fakeServer(
      200,
      { 'content-type': 'application/json', 'buildd-api-version': '2' },
      '{}',
    );
    const other = await fakeServer(404, { 'content-type': 'text/html' }, '<h1>Not Found</h1>');
    try {
      const url = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
      const v2 = await runCli(['status'], { ...as(t.adminKey), BUILDD_SERVER: url(newer) });
      expect(v2.code).toBe(5);
      expect(v2.stderr).toContain(
        `The server at ${url(newer)} speaks buildd API version 2, but this buildd CLI speaks version 1`,
      );
      const html = await runCli(['task', 'list'], { ...as(t.adminKey), BUILDD_SERVER: url(other) });
      expect(html.code).toBe(5);
      expect(html.stderr).toContain(
        `The server at ${url(other)} answered HTTP 404 with something other than the buildd API`,
      );
    } finally {
      newer.close();
      other.close();
    }
  });

  it('manages accounts and keys; a revoked key and a member doing admin work get their own answers', async () => {
    const env = as(t.adminKey);
    const created = await cliJson(
      ['account', 'create', 'ci-bot', '--type', 'service', '--max-workers', '4', '--max-cost', '2.5'],
      env,
    );
    expect(created.account).toMatchObject({
      name: 'ci-bot',
      type: 'service',
      level: 'member',
      maxConcurrentWorkers: 4,
      maxCostPerDayUsd: 2.5,
    });
    expect(created.apiKey).toMatch(/^buildd_svc_/);
    const accounts = await cliJson(['account', 'list'], env);
    expect(accounts.items.map((a: { name: string }) => a.name)).toEqual(
      expect.arrayContaining(['admin', 'ci-bot']),
    );
    const limits = await cliJson(
      ['account', 'limits', created.account.id, '--max-cost', 'none', '--max-sessions', '1'],
      env,
    );
    expect(limits).toMatchObject({
      maxCostPerDayUsd: null,
      maxConcurrentSessions: 1,
      maxConcurrentWorkers: 4,
    });

    const key = await cliJson(['key', 'create', created.account.id, '--name', 'second'], env);
    const keys = await cliJson(['key', 'list', created.account.id], env);
    expect(keys.items).toHaveLength(2);
    expect(JSON.stringify(keys)).not.toContain(key.apiKey);
    expect((await runCli(['status'], as(key.apiKey))).code).toBe(0);
    expect((await cliJson(['key', 'revoke', key.key.id], env)).revokedAt).not.toBeNull();
    const revoked = await runCli(['status'], as(key.apiKey));
    expect(revoked.code).toBe(3);
    expect(revoked.stderr).toContain('This API key is unknown or has been revoked.');

    const member = await runCli(['account', 'create', 'sneaky'], as(created.apiKey));
    expect(member.code).toBe(1);
    expect(member.stderr).toContain('Only an admin account may do this.');
  });

  it("sets and clears a workspace's GitHub repository and token; the token comes from stdin or the environment and is never printed", async () => {
    const env = as(t.adminKey);
    await cliJson(['workspace', 'create', 'cli-github', '--model', 'claude-haiku-4-5'], env);
    const storedToken = async () => {
      const rows = await t.db.query<{ sealed: string | null }>(
        `SELECT github_token_sealed AS sealed FROM workspaces WHERE name = 'cli-github'`,
      );
      return rows[0]!.sealed === null ? null : secretKeys.open(rows[0]!.sealed);
    };
    const token = 'ghp_CliStdinToken0123456789abcdefghijkl';

    // --help names both ways in and offers no flag that takes the token as a value.
    const help = await runCli(['workspace', 'github', '--help'], env);
    expect(help.stdout).toContain('--token-stdin');
    expect(help.stdout).toContain('BUILDD_WORKSPACE_GITHUB_TOKEN');
    expect(help.stdout).not.toMatch(/^\s+--token[\w-]* </m);

    const set = await runCli(
      ['workspace', 'github', 'cli-github', '--repo', 'acme/widgets', '--token-stdin'],
      env,
      `${token}\n`,
    );
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('cli-github: GitHub repository acme/widgets; GitHub token set.');
    expect(set.stdout + set.stderr).not.toContain(token);
    expect(await storedToken()).toBe(token);
    const api = await admin.get('/api/workspaces/cli-github');
    expect(api.body).toMatchObject({
      hasGithubToken: true,
      config: { githubRepo: 'acme/widgets', model: 'claude-haiku-4-5' },
    });
    expect(JSON.stringify(api.body)).not.toContain(token);

    // show and list say that a token is set, never what it is.
    const show = await runCli(['workspace', 'show', 'cli-github'], env);
    expect(show.stdout).toMatch(/^\s*GitHub\s+acme\/widgets$/m);
    expect(show.stdout).toMatch(/^\s*GitHub token\s+set$/m);
    const list = await runCli(['workspace', 'list'], env);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+ACCESS\s+BRANCH\s+REPO\s+GITHUB\s+TOKEN$/m);
    expect(list.stdout).toMatch(/cli-github\s.*acme\/widgets\s+set$/m);
    const json = await runCli(['--json', 'workspace', 'show', 'cli-github'], env);
    for (const r of [show, list, json]) expect(r.stdout + r.stderr).not.toContain(token);

    // A malformed token is refused before it reaches the server, without echoing it.
    const bad = await runCli(['workspace', 'github', 'cli-github', '--token-stdin'], env, 'ghp_two words\n');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('token: githubToken must be the token alone');
    expect(bad.stderr).not.toContain('ghp_two');
    const unset = await runCli(['workspace', 'github', 'cli-github', '--token-env'], env);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('--token-env: BUILDD_WORKSPACE_GITHUB_TOKEN is not set.');
    expect(await storedToken()).toBe(token);

    // The variable the help names replaces it; the repository stays.
    const replacement = 'github_pat_FromTheEnvironment_0123456789';
    const fromEnv = await cliJson(['workspace', 'github', 'cli-github', '--token-env'], {
      ...env,
      BUILDD_WORKSPACE_GITHUB_TOKEN: replacement,
    });
    expect(fromEnv).toMatchObject({ hasGithubToken: true, config: { githubRepo: 'acme/widgets' } });
    expect(JSON.stringify(fromEnv)).not.toContain(replacement);
    expect(await storedToken()).toBe(replacement);

    const cleared = await runCli(['workspace', 'github', 'cli-github', '--clear-token', '--clear-repo'], env);
    expect(cleared.code).toBe(0);
    expect(cleared.stdout).toContain(
      'cli-github: no GitHub repository (no pull requests); GitHub token not set.',
    );
    expect(await storedToken()).toBeNull();
    const after = (await admin.get('/api/workspaces/cli-github')).body;
    expect(after).toMatchObject({ hasGithubToken: false, config: { model: 'claude-haiku-4-5' } });
    expect(after.config.githubRepo).toBeUndefined();
    expect((await runCli(['workspace', 'show', 'cli-github'], env)).stdout).toMatch(
      /^\s*GitHub token\s+not set$/m,
    );
  });

  it('adds a webhook whose secret comes from stdin, never from the command line or the output', async () => {
    const env = as(t.adminKey);
    await cliJson(['workspace', 'create', 'cli-hooks'], env);
    const secret = 'whsec-from-stdin-0123456789abcdefghij';
    const help = await runCli(['workspace', 'webhooks', '--help'], env);
    expect(help.stdout).toContain('--secret-stdin');
    expect(help.stdout).toContain('prefer --secret-stdin');
    const added = await runCli(
      ['workspace', 'webhooks', 'cli-hooks', '--add', 'https://hooks.example.com/buildd', '--secret-stdin'],
      env,
      `${secret}\n`,
    );
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^Added webhook \S+ → https:\/\/hooks\.example\.com\/buildd\.$/m);
    expect(added.stdout + added.stderr).not.toContain(secret);
    const listed = await runCli(['--json', 'workspace', 'webhooks', 'cli-hooks'], env);
    expect(JSON.parse(listed.stdout).items).toHaveLength(1);
    expect(listed.stdout).not.toContain(secret);
    // The secret signs deliveries: the server has exactly what was piped in, without the newline.
    const rows = await t.db.query<{ secret: string }>(
      "SELECT h.secret FROM webhooks h JOIN workspaces w ON w.id = h.workspace_id WHERE w.name = 'cli-hooks'",
    );
    expect(rows.map((r) => r.secret)).toEqual([secret]);
    const none = await runCli(
      ['workspace', 'webhooks', 'cli-hooks', '--add', 'https://hooks.example.com/x', '--secret-stdin'],
      env,
      '',
    );
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--add needs --secret-stdin');
    const both = await runCli(
      [
        'workspace',
        'webhooks',
        'cli-hooks',
        '--add',
        'https://hooks.example.com/x',
        '--secret-stdin',
        '--secret',
        'x',
      ],
      env,
      `${secret}\n`,
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('Pass --secret-stdin or --secret, not both.');
  });

  it('reports usage per day with the cap: admins see every account, members their own', async () => {
    await admin.post('/api/workspaces', { name: 'cli-usage' });
    const worker = await makeAccount(admin, t.url, { type: 'service', name: 'spender', maxCostPerDayUsd: 1 });
    const other = await makeAccount(admin, t.url, { type: 'service', name: 'bystander' });
    await admin.post('/api/tasks', { workspaceId: 'cli-usage', title: 'u', prompt: 'p' });
    const claim = await worker.api.post('/api/workers/claim', {
      maxTasks: 1,
      authType: 'api',
      agentId: 'a1',
    });
    const w = claim.body.workers[0];
    expect(
      (
        await worker.api.patch(`/api/workers/${w.id}`, {
          status: 'running',
          costUsd: 0.25,
          inputTokens: 1200,
          outputTokens: 300,
        })
      ).status,
    ).toBe(200);

    const all = await cliJson(['usage'], as(t.adminKey));
    const mine = all.items.find((u: { accountName: string }) => u.accountName === 'spender');
    expect(mine).toMatchObject({
      accountId: worker.id,
      day: new Date().toISOString().slice(0, 10),
      costUsd: 0.25,
      inputTokens: 1200,
      outputTokens: 300,
      maxCostPerDayUsd: 1,
    });
    const own = await cliJson(['usage', '--days', '7'], as(worker.key));
    expect(own.items.map((u: { accountId: string }) => u.accountId)).toEqual([worker.id]);
    expect((await cliJson(['usage'], as(other.key))).items).toEqual([]);
    const snoop = await runCli(['usage', '--account', worker.id], as(other.key));
    expect(snoop.code).toBe(1);
    expect(snoop.stderr).toContain(`No account with id "${worker.id}".`);
    const table = await runCli(['usage', '--account', worker.id], as(t.adminKey));
    expect(table.stdout).toMatch(/^DAY\s+ACCOUNT\s+COST\s+CAP\s+INPUT\s+OUTPUT$/m);
    expect(table.stdout).toMatch(/spender\s+\$0\.2500\s+\$1\.00\s+1,200\s+300/);
    const bad = await runCli(['usage', '--days', '0'], as(t.adminKey));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/days/);
  });

  it('watch exits 11 when the task it follows is cancelled', async () => {
    const env = as(t.adminKey);
    await admin.post('/api/workspaces', { name: 'cli-cancel' });
    const task = await cliJson(['task', 'create', '-w', 'cli-cancel', 'wait for me'], env);
    const watching = startCli(['task', 'watch', task.id], env);
    // Once watch printed its first progress line it is following; then the task is cancelled.
    while (!watching.stdout().includes('pending')) await new Promise((r) => setTimeout(r, 50));
    expect((await runCli(['task', 'cancel', task.id], env)).code).toBe(0);
    const r = await watching.done;
    expect(r.code).toBe(11);
    expect(r.stdout).toContain(`Task ${task.id} cancelled`);
  });

  it('says which commands this server does not support yet, after checking the task exists', async () => {
    const env = as(t.adminKey);
    await admin.post('/api/workspaces', { name: 'cli-review' });
    const task = await cliJson(['task', 'create', '-w', 'cli-review', 'review me'], env);
    for (const [args, feature] of [
      [['task', 'answer', task.id, 'yes'], 'answering a task'],
      [['task', 'message', task.id, 'also', 'this'], 'messages to a task'],
      [['task', 'diff', task.id], 'task diffs'],
      [['workspace', 'webhooks', 'cli-review'], 'webhooks'],
    ] as const) {
      const r = await runCli([...args], env);
      // Once the server has the route (another part of buildd adds it), the command works or gets the
      // server's own answer (e.g. 409: this pending task has no question to answer).
      const served = r.code === 0 || !r.stderr.includes('does not support');
      if (!served) {
        expect({ args, code: r.code }).toEqual({ args, code: 6 });
        expect(r.stderr).toContain(`This server does not support ${feature} yet`);
      }
    }
    const unknown = await runCli(['task', 'answer', 'task_nope', 'yes'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No task with id "task_nope".');
  });
});

/**
 * A hostile task, end to end with real parts: the real server, a member's task in an open workspace,
 * a real agent whose run goes through the real SDK in its sandbox against the scripted fake model.
 * The task tries to read the buildd keys, the Claude credential (the Claude process's environment),
 * another task's worktree, and to write outside its own. It gets none of them, and the events it
 * leaves (which everyone who can see the task may read) hold none of the secrets.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient, makeAccount } from '../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { type RunningAgent, startAgent } from '../src/agent.ts';
import { fakeApiKey, fakeOauthToken, memoryLog, sdkTestEnv, testConfig } from './support/agent-harness.ts';
import { bash, type FakeAnthropic, read, startFakeAnthropic, text } from './support/fake-anthropic.ts';
import { gitSync, makeOrigin, type Origin } from './support/git-fixtures.ts';

let server: TestServer;
let admin: ApiClient;
let anthropic: FakeAnthropic;
let agent: RunningAgent | undefined;
let root: string;
let origin: Origin;
/** HOME of the agent the first test starts (its data dir is ~/.buildd/agent). */
let agentHome = '';

const otherWorktreeText = 'CONTENT-OF-ANOTHER-TASKS-WORKTREE';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'buildd-e2e-sandbox-'));
  mkdirSync(join(root, 'outside'));
  origin = makeOrigin(root);
  server = await startTestServer();
  admin = apiClient(server.url, server.adminKey);
  expect(
    (await admin.post('/api/workspaces', { name: 'shared', repoUrl: origin.url, access: 'open' })).status,
  ).toBe(201);
  const outside = join(root, 'outside');
  // The first task is hostile; the second commits by hand (in a checkout made from the spare worktree).
  const hostile = [
    bash(
      [
        `tr '\\0' '\\n' < /proc/$PPID/environ | grep -c sk-ant`,
        'cat ~/.buildd/config.json',
        'cat ~/.buildd/agent/worktrees/wrk-other/notes.txt',
        'ls ~/.buildd/agent/spool',
        'echo "env: $BUILDD_API_KEY $BUILDD_ADMIN_KEY $CLAUDE_CODE_OAUTH_TOKEN"',
        `touch ${outside}/planted && echo PLANTED`,
        'echo mine > inside.txt',
      ].join('; '),
    ),
    read('/proc/self/environ'),
    text('Tried everything.'),
  ];
  const committing = [
    bash(
      'echo more > second.txt && git add second.txt && git commit -qm "committed in the sandbox" && echo COMMITTED',
    ),
    text('Committed.'),
  ];
  anthropic = await startFakeAnthropic({
    scriptFor: (_session, first) => (JSON.stringify(first).includes('commit by hand') ? committing : hostile),
  });
});

afterAll(async () => {
  await agent?.stop();
  await anthropic?.close();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

/** The task once it completed or failed (or as it is after 90 s). */
async function finalTask(id: string): Promise<any> {
  let task = (await admin.get(`/api/tasks/${id}`)).body;
  for (
    const deadline = Date.now() + 90_000;
    !['completed', 'failed'].includes(task.status) && Date.now() < deadline;
  ) {
    await new Promise((r) => setTimeout(r, 300));
    task = (await admin.get(`/api/tasks/${id}`)).body;
  }
  return task;
}

describe('a hostile task in the sandbox', () => {
  it('reads no key, credential or other worktree, writes nothing outside its worktree, and leaks nothing', async () => {
    const member = await makeAccount(admin, server.url, { type: 'user', level: 'member' });
    const env = sdkTestEnv(anthropic.url);
    const home = env.HOME as string;
    agentHome = home;
    // As on a machine where the server's first start wrote the admin key, and another task is running.
    mkdirSync(join(home, '.buildd', 'agent', 'worktrees', 'wrk-other'), { recursive: true });
    writeFileSync(join(home, '.buildd', 'config.json'), JSON.stringify({ apiKey: server.adminKey }));
    writeFileSync(join(home, '.buildd', 'agent', 'worktrees', 'wrk-other', 'notes.txt'), otherWorktreeText);
    const config = testConfig(server.url, ['--poll-interval=1', '--max-tasks=1'], {
      ...env,
      BUILDD_API_KEY: member.key,
      BUILDD_ADMIN_KEY: server.adminKey,
      ANTHROPIC_API_KEY: fakeApiKey,
    });
    agent = startAgent({ ...config, apiKey: member.key }, { log: memoryLog().log });

    const created = await member.api.post('/api/tasks', {
      workspaceId: 'shared',
      title: 'curious',
      prompt: 'look around',
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const task = await finalTask(id);
    expect(task.status).toBe('completed');

    // What the member (and anyone who can see the task) can read.
    const events = JSON.stringify((await member.api.get(`/api/tasks/${id}/events`)).body);
    for (const secret of [server.adminKey, member.key, fakeOauthToken, fakeApiKey]) {
      expect(events).not.toContain(secret);
    }
    expect(events).not.toContain(otherWorktreeText);
    // (The command's own text says PLANTED; its output would say it on a line of its own.)
    expect(events).not.toMatch(/\\nPLANTED/);
    // The attempts failed in the sandbox (not merely redacted): no credential in the environment it saw.
    expect(events).toMatch(/\/proc\/1\/environ: Permission denied/);
    expect(events).toMatch(/config\.json: No such file/);
    expect(events).toMatch(/Read-only file system/);
    expect(events).toContain('env:   ');
    // The Read of the Claude process's environment was refused (by Claude Code itself, or else the guard).
    expect(events).toMatch(/Cannot read '\/proc\/self\/environ'|reading \/proc\/self\/environ/);
    expect(existsSync(join(root, 'outside', 'planted'))).toBe(false);
    // The work inside its own worktree went through.
    expect(origin.readFile(task.workers[0].branch, 'inside.txt')).toBe('mine');
  });

  it('lets a task commit in a checkout made from the spare worktree', async () => {
    // The first task left a spare for the next one; that one gets its checkout by moving it.
    const worktrees = join(agentHome, '.buildd', 'agent', 'worktrees');
    expect(readdirSync(worktrees).filter((name) => name.startsWith('.spare-'))).toHaveLength(1);
    const created = await admin.post('/api/tasks', {
      workspaceId: 'shared',
      title: 'commit',
      prompt: 'commit by hand',
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const task = await finalTask(id);
    expect(task.status).toBe('completed');
    // The model's own commit (it writes the worktree's HEAD and index in the cache's admin dir).
    const branch = task.workers[0].branch as string;
    expect(gitSync(origin.url, ['log', '-1', '--format=%s', branch])).toBe('committed in the sandbox');
    expect(origin.readFile(branch, 'second.txt')).toBe('more');
  });
});

/**
 * Review and conversation through the real agent, the real server and the real SDK against the scripted
 * Messages API: Claude asks with AskUserQuestion, a person answers through the API, the same session goes
 * on with the answer; the finished run's branch diff is the task's `diff` artifact, equal to `git diff` in
 * origin, stored once however often it is sent, and hidden from an account that cannot see the task.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient, makeAccount } from '../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { type RunningAgent, startAgent } from '../src/agent.ts';
import { fakeApiKey, memoryLog, testConfig } from './support/agent-harness.ts';
import { askUser, type FakeAnthropic, startFakeAnthropic, text, write } from './support/fake-anthropic.ts';
import { gitSync, makeOrigin, type Origin } from './support/git-fixtures.ts';

let server: TestServer;
let admin: ApiClient;
let anthropic: FakeAnthropic;
let agent: RunningAgent | undefined;
let root: string;
let origin: Origin;

const question = 'Which greeting should the file hold?';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'buildd-review-'));
  server = await startTestServer({ leaseSeconds: 20, renewSeconds: 2 });
  admin = apiClient(server.url, server.adminKey);
  origin = makeOrigin(root);
  const ws = await admin.post('/api/workspaces', {
    name: 'review',
    repoUrl: origin.url,
    defaultBranch: 'main',
    access: 'restricted',
  });
  expect(ws.status).toBe(201);
  const asking = [
    askUser(question, 'Greeting', { hello: 'a plain hello', ahoy: 'a sailor’s greeting' }),
    write('greeting.txt', 'ahoy\n'),
    text('Wrote the greeting the person chose.'),
  ];
  const followingUp = [write('farewell.txt', 'fair winds\n'), text('Added a farewell.')];
  anthropic = await startFakeAnthropic({
    scriptFor: (_session, first) => (JSON.stringify(first).includes('asks for more') ? followingUp : asking),
  });
});

afterAll(async () => {
  await agent?.stop();
  await anthropic?.close();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

/** A real agent of the account with `key`, with a HOME and Claude config dir of its own. */
function startTestAgent(key: string): RunningAgent {
  const home = mkdtempSync(join(root, 'home-'));
  mkdirSync(join(home, 'tmp'));
  const config = testConfig(server.url, ['--api-key', key, '--poll-interval=1', '--no-sandbox'], {
    HOME: home,
    CLAUDE_CONFIG_DIR: join(home, '.claude'),
    CLAUDE_CODE_TMPDIR: join(home, 'tmp'),
    ANTHROPIC_BASE_URL: anthropic.url,
    CLAUDE_CODE_MAX_RETRIES: '0',
    ANTHROPIC_API_KEY: fakeApiKey,
    CLAUDE_CODE_OAUTH_TOKEN: '',
  });
  return startAgent(config, { log: memoryLog().log });
}

let taskId = '';

const isFinal = (status: string) => ['completed', 'failed', 'cancelled'].includes(status);

/** Polls the task until `done` says so (generous: a busy machine), and answers it as it was then. */
async function taskWhen(id: string, done: (task: any) => boolean): Promise<any> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const task = (await admin.get(`/api/tasks/${id}`)).body;
    if (done(task) || Date.now() > deadline) return task;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a run that asks a person', () => {
  it('waits in waiting_input, continues the same session with the answer, and leaves a diff equal to origin’s', async () => {
    const svc = await makeAccount(admin, server.url, { type: 'service' });
    const ws = (await admin.get('/api/workspaces/review')).body;
    await admin.put(`/api/workspaces/${ws.id}/members/${svc.id}`, { canClaim: true, canCreate: false });
    const created = await admin.post('/api/tasks', {
      workspaceId: 'review',
      title: 'Greet',
      prompt: 'Write a greeting',
    });
    taskId = created.body.id as string;

    agent = startTestAgent(svc.key);

    let task = await taskWhen(taskId, (t) => t.status === 'waiting_input' || isFinal(t.status));
    expect(task.status).toBe('waiting_input');
    expect(task.question).toMatchObject({ text: question, options: ['hello', 'ahoy'] });
    expect(task.workers[0].status).toBe('waiting_input');
    const requestsBefore = anthropic.requests.length;

    const answered = await admin.post(`/api/tasks/${taskId}/answer`, { text: 'ahoy, matey' });
    expect(answered.status).toBe(200);
    task = await taskWhen(taskId, (t) => isFinal(t.status));
    expect(task.status).toBe('completed');
    // The model request after the answer carries it, as the AskUserQuestion tool's result.
    const next = anthropic.requests[requestsBefore];
    expect(next?.sessionId).toBe(anthropic.requests[0]?.sessionId);
    const last = ((next?.body.messages ?? []) as { role: string; content: unknown }[]).at(-1);
    expect(last?.role).toBe('user');
    expect(JSON.stringify(last?.content)).toMatch(/tool_result.*ahoy, matey/);
    expect(origin.readFile(task.result.branch, 'greeting.txt')).toBe('ahoy');

    // The diff artifact is what git says in origin, stored once.
    const expected = gitSync(origin.url, ['diff', '--no-color', `main...${task.result.branch}`, '--']);
    const diff = await admin.call('GET', `/api/tasks/${taskId}/diff`);
    expect(diff.status).toBe(200);
    expect(`${diff.body}`.trim()).toBe(expected.trim());
    expect(diff.body).toContain('+ahoy');
    const list = await admin.get(`/api/tasks/${taskId}/artifacts`);
    // Newest first: the conversation is uploaded after the diff, at the very end of the run.
    expect(list.body.items.map((a: { name: string }) => a.name)).toEqual(['conversation', 'diff']);
    const sha = list.body.items[1].sha256 as string;
    const again = await svc.api.call('POST', `/api/workers/${task.workers[0].id}/artifacts`, 'x', {
      'x-artifact-name': 'late',
    });
    expect(again.status).toBe(409);
    const stranger = await makeAccount(admin, server.url, { type: 'user' });
    expect((await stranger.api.get(`/api/artifacts/${sha}`)).status).toBe(404);
    expect((await svc.api.get(`/api/artifacts/${sha}`)).status).toBe(200);
  }, 300_000);

  it('a follow-up to the completed task is taken by another agent, on the same branch, with the new instruction', async () => {
    await agent?.stop();
    agent = undefined;
    const before = (await admin.get(`/api/tasks/${taskId}`)).body;
    const other = await makeAccount(admin, server.url, { type: 'service' });
    const ws = (await admin.get('/api/workspaces/review')).body;
    await admin.put(`/api/workspaces/${ws.id}/members/${other.id}`, { canClaim: true, canCreate: false });

    const sent = await admin.post(`/api/tasks/${taskId}/messages`, { text: 'Please also add a farewell.' });
    expect(sent.status).toBe(202);
    expect(sent.body.status).toBe('pending');
    const requestsBefore = anthropic.requests.length;
    agent = startTestAgent(other.key);
    const task = await taskWhen(taskId, (t) => isFinal(t.status) && t.workers.length === 2);
    expect(task.status).toBe('completed');
    expect(task.workers[1].accountId).toBe(other.id);
    expect(task.workers[1].branch).toBe(before.result.branch);
    const first = anthropic.requests[requestsBefore];
    const seen = JSON.stringify(first?.body.messages);
    expect(seen).toContain('Write a greeting');
    expect(seen).toContain('Please also add a farewell.');
    // The earlier conversation itself, not only the prompt: its question and the person's answer, with the
    // earlier worktree's paths moved to this agent's checkout.
    expect(seen).toContain(question);
    expect(seen).toContain('ahoy, matey');
    expect(seen).not.toContain(`worktrees/${before.workers[0].id}`);
    expect(seen).toContain(`worktrees/${task.workers[1].id}`);
    // Both runs' work is on the one branch in origin.
    expect(origin.readFile(before.result.branch, 'greeting.txt')).toBe('ahoy');
    expect(origin.readFile(before.result.branch, 'farewell.txt')).toBe('fair winds');
    const diff = await admin.call('GET', `/api/tasks/${taskId}/diff`);
    expect(diff.body).toContain('+fair winds');
    expect(diff.body).toContain('+ahoy');
  }, 300_000);
});

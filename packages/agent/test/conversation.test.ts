/**
 * The conversation travels with the task, through the real agent, the real server and the real SDK against
 * the scripted Messages API: a run left waiting past `--park-after` frees its slot and the later answer
 * resumes its conversation in a new attempt; answers and a person's messages reach a live session by push
 * (the poll interval is far too long to explain them).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient, makeAccount } from '../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { type RunningAgent, startAgent } from '../src/agent.ts';
import { fakeApiKey, memoryLog, testConfig } from './support/agent-harness.ts';
import {
  askUser,
  type FakeAnthropic,
  type RecordedRequest,
  startFakeAnthropic,
  text,
  write,
} from './support/fake-anthropic.ts';
import { makeOrigin, type Origin } from './support/git-fixtures.ts';

let server: TestServer;
let admin: ApiClient;
let anthropic: FakeAnthropic;
let root: string;
let origin: Origin;
const agents: RunningAgent[] = [];
const homes: string[] = [];

const question = 'Which greeting should the file hold?';
const ask = askUser(question, 'Greeting', { hello: 'a plain hello', ahoy: 'a sailor’s greeting' });

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'buildd-conversation-'));
  server = await startTestServer({ leaseSeconds: 20, renewSeconds: 2 });
  admin = apiClient(server.url, server.adminKey);
  origin = makeOrigin(root);
  expect(
    (await admin.post('/api/workspaces', { name: 'talk', repoUrl: origin.url, defaultBranch: 'main' }))
      .status,
  ).toBe(201);
  // One script per session, chosen by what its first request asks.
  anthropic = await startFakeAnthropic({
    scriptFor: (_session, first) => {
      const seen = JSON.stringify(first);
      if (seen.includes('A person answered your question'))
        return [write('greeting.txt', 'ahoy\n'), text('Greeted.')];
      if (seen.includes('Park me')) return [write('draft.txt', 'draft\n'), ask, text('unreachable')];
      if (seen.includes('Meanwhile')) return [text('Other task done.')];
      if (seen.includes('Listen to me') || seen.includes('Listen by poll')) {
        // The first answer is slow: the person's message arrives while the turn runs.
        return [write('slow.txt', 'slow\n', { delayMs: 4_000 }), text('Heard you.')];
      }
      if (seen.includes('Ask by push') || seen.includes('Ask by poll'))
        return [ask, text('Answered by push.')];
      return [text('(no script)')];
    },
  });
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

afterAll(async () => {
  await anthropic?.close();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

/** A real agent with a HOME, Claude config dir and data dir of its own. */
function startTestAgent(key: string, flags: string[], channel = true): RunningAgent {
  const home = mkdtempSync(join(root, 'home-'));
  homes.push(home);
  mkdirSync(join(home, 'tmp'));
  const config = testConfig(server.url, ['--api-key', key, '--no-sandbox', ...flags], {
    HOME: home,
    CLAUDE_CONFIG_DIR: join(home, '.claude'),
    CLAUDE_CODE_TMPDIR: join(home, 'tmp'),
    ANTHROPIC_BASE_URL: anthropic.url,
    CLAUDE_CODE_MAX_RETRIES: '0',
    ANTHROPIC_API_KEY: fakeApiKey,
    CLAUDE_CODE_OAUTH_TOKEN: '',
  });
  const agent = startAgent(config, { log: memoryLog().log, channel });
  agents.push(agent);
  return agent;
}

/** Polls the task until `done` says so (generous: a busy machine), and answers it as it was then. */
async function taskWhen(id: string, done: (task: any) => boolean): Promise<any> {
  const deadline = Date.now() + 150_000;
  for (;;) {
    const task = (await admin.get(`/api/tasks/${id}`)).body;
    if (done(task) || Date.now() > deadline) return task;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 150_000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

const isFinal = (status: string) => ['completed', 'failed', 'cancelled'].includes(status);
const createTask = async (title: string, prompt: string) =>
  (await admin.post('/api/tasks', { workspaceId: 'talk', title, prompt })).body.id as string;
const messagesOf = (r: RecordedRequest | undefined) => JSON.stringify(r?.body.messages ?? []);

describe('the conversation travels with the task', () => {
  it('a question left unanswered past the park time frees the slot; the answer resumes the conversation', async () => {
    const svc = await makeAccount(admin, server.url, { type: 'service' });
    const taskId = await createTask('Park', 'Park me: write a greeting');
    startTestAgent(svc.key, ['--max-tasks=1', '--poll-interval=1', '--park-after=2']);

    // Asked, waited two seconds, parked: the worker ended, the task still waits for its answer.
    let task = await taskWhen(taskId, (t) => t.workers[0]?.status === 'completed' || isFinal(t.status));
    expect(task.status).toBe('waiting_input');
    expect(task.question.text).toBe(question);
    expect(task.workers[0]).toMatchObject({ status: 'completed', exitCause: 'parked' });
    const names = (await admin.get(`/api/tasks/${taskId}/artifacts`)).body.items.map((a: any) => a.name);
    expect(names).toContain('conversation');
    // The work before the question was pushed, so the resumed attempt finds it.
    const branch = task.workers[0].branch as string;
    expect(origin.readFile(branch, 'draft.txt')).toBe('draft');

    // The agent has one slot, and it is free: another task runs to its end.
    const other = await createTask('Other', 'Meanwhile, another task');
    expect((await taskWhen(other, (t) => isFinal(t.status))).status).toBe('completed');

    const before = anthropic.requests.length;
    expect((await admin.post(`/api/tasks/${taskId}/answer`, { text: 'ahoy, matey' })).body.status).toBe(
      'pending',
    );
    task = await taskWhen(taskId, (t) => isFinal(t.status));
    expect(task.status).toBe('completed');
    expect(task.workers).toHaveLength(2);
    expect(task.workers[1].branch).toBe(branch);
    // The new attempt's first model request carries the earlier conversation (the prompt, the draft written
    // before the question, the question itself) and the answer.
    const first = anthropic.requests.slice(before).find((r) => messagesOf(r).includes('ahoy, matey'));
    const seen = messagesOf(first);
    expect(seen).toContain('Park me: write a greeting');
    expect(seen).toContain('draft.txt');
    expect(seen).toContain(question);
    expect(first?.sessionId).not.toBe(
      anthropic.requests.find((r) => messagesOf(r).includes('Park me'))?.sessionId,
    );
    expect(origin.readFile(branch, 'greeting.txt')).toBe('ahoy');
    expect(origin.readFile(branch, 'draft.txt')).toBe('draft');
    // The transcripts went to the server, and auto memory is off: nothing is left under the config dir's projects.
    const projects = join(homes.at(-1) as string, '.claude', 'projects');
    const left = existsSync(projects) ? readdirSync(projects, { recursive: true }) : [];
    expect(left).toEqual([]);
  }, 400_000);

  it('a message reaches a running session, and an answer a waiting one, by push alone', async () => {
    const svc = await makeAccount(admin, server.url, { type: 'service' });
    // Polls every ten minutes: within this test only the push channel can bring anything.
    startTestAgent(svc.key, ['--poll-interval=600']);
    // Wait for the channel: the agent's start-up claim happens before any task exists.
    await until(() => server.server.channel.size > 0);

    const talking = await createTask('Talk', 'Listen to me while you work');
    await until(() => anthropic.requests.some((r) => messagesOf(r).includes('Listen to me')));
    const sent = await admin.post(`/api/tasks/${talking}/messages`, { text: 'Also mind the whitespace.' });
    expect(sent.status).toBe(202);
    const task = await taskWhen(talking, (t) => isFinal(t.status));
    expect(task.status).toBe('completed');
    expect(task.workers).toHaveLength(1); // delivered into the session, not a follow-up
    const session = anthropic.requests.find((r) => messagesOf(r).includes('Listen to me'))?.sessionId;
    const later = anthropic.requests.filter((r) => r.sessionId === session).slice(1);
    expect(later.some((r) => messagesOf(r).includes('Also mind the whitespace.'))).toBe(true);

    const asking = await createTask('Ask', 'Ask by push');
    const waiting = await taskWhen(asking, (t) => t.status === 'waiting_input' || isFinal(t.status));
    expect(waiting.status).toBe('waiting_input');
    expect((await admin.post(`/api/tasks/${asking}/answer`, { text: 'hello there' })).status).toBe(200);
    const answered = await taskWhen(asking, (t) => isFinal(t.status));
    expect(answered.status).toBe('completed');
    expect(answered.workers).toHaveLength(1);
    expect(anthropic.requests.some((r) => /tool_result.*hello there/.test(messagesOf(r)))).toBe(true);
  }, 400_000);

  it('without the push channel, the poll brings the message and the answer', async () => {
    const svc = await makeAccount(admin, server.url, { type: 'service' });
    startTestAgent(svc.key, ['--poll-interval=1'], false);

    const talking = await createTask('Talk', 'Listen by poll');
    await until(() => anthropic.requests.some((r) => messagesOf(r).includes('Listen by poll')));
    expect((await admin.post(`/api/tasks/${talking}/messages`, { text: 'Polled words.' })).status).toBe(202);
    const task = await taskWhen(talking, (t) => isFinal(t.status));
    expect(task.status).toBe('completed');
    expect(task.workers).toHaveLength(1);
    const session = anthropic.requests.find((r) => messagesOf(r).includes('Listen by poll'))?.sessionId;
    const later = anthropic.requests.filter((r) => r.sessionId === session).slice(1);
    expect(later.some((r) => messagesOf(r).includes('Polled words.'))).toBe(true);

    const asking = await createTask('Ask', 'Ask by poll');
    expect((await taskWhen(asking, (t) => t.status === 'waiting_input' || isFinal(t.status))).status).toBe(
      'waiting_input',
    );
    await admin.post(`/api/tasks/${asking}/answer`, { text: 'polled answer' });
    expect((await taskWhen(asking, (t) => isFinal(t.status))).status).toBe('completed');
    expect(anthropic.requests.some((r) => /tool_result.*polled answer/.test(messagesOf(r)))).toBe(true);
  }, 400_000);
});

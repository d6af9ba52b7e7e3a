/**
 * The whole path with real parts: the real buildd server (PGlite, real HTTP on 127.0.0.1), a real
 * in-process agent with the real run (Claude Agent SDK → fake Messages API on 127.0.0.1).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient } from '../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { type RunningAgent, startAgent } from '../src/agent.ts';
import { fakeApiKey, fakeOauthToken, memoryLog, testConfig, waitFor } from './support/agent-harness.ts';
import { type FakeAnthropic, startFakeAnthropic, text, write } from './support/fake-anthropic.ts';

let server: TestServer;
let admin: ApiClient;
let anthropic: FakeAnthropic;
let agent: RunningAgent | undefined;

beforeAll(async () => {
  // A short lease renewed every second, so a cancel reaches the agent within about a second.
  server = await startTestServer({ leaseSeconds: 6, renewSeconds: 1 });
  admin = apiClient(server.url, server.adminKey);
  expect((await admin.post('/api/workspaces', { name: 'e2e' })).status).toBe(201);
  anthropic = await startFakeAnthropic({
    scriptFor: (_session, first) =>
      JSON.stringify(first).includes('SLOW')
        ? [text('never seen', { delayMs: 30_000 })]
        : [
            write('hello.txt', 'hello from buildd\n', { usage: { input_tokens: 1000, output_tokens: 100 } }),
            text('Wrote hello.txt.', { usage: { input_tokens: 1000, output_tokens: 50 } }),
          ],
  });
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});
afterAll(async () => {
  await anthropic?.close();
  await server?.close();
});

/** Starts an agent on the test server; every request it sends to the server lands in `sent`. */
function startTestAgent(sent: string[] = []) {
  const home = mkdtempSync(join(tmpdir(), 'buildd-e2e-home-'));
  mkdirSync(join(home, 'tmp'));
  const config = testConfig(
    server.url,
    ['--api-key', server.adminKey, '--poll-interval=1', '--max-tasks=1'],
    {
      HOME: home,
      CLAUDE_CONFIG_DIR: join(home, '.claude'),
      CLAUDE_CODE_TMPDIR: join(home, 'tmp'),
      ANTHROPIC_BASE_URL: anthropic.url,
      CLAUDE_CODE_MAX_RETRIES: '0',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      // Both set: the agent must choose OAuth and hand only that to Claude Code.
      ANTHROPIC_API_KEY: fakeApiKey,
    },
  );
  const recordingFetch: typeof fetch = (input, init) => {
    sent.push(`${String(input)} ${JSON.stringify(init?.headers)} ${String(init?.body ?? '')}`);
    return fetch(input, init);
  };
  const logs = memoryLog();
  agent = startAgent(config, { fetch: recordingFetch, log: logs.log });
  return logs;
}

async function createTask(prompt: string) {
  const created = await admin.post('/api/tasks', { workspaceId: 'e2e', title: prompt.slice(0, 40), prompt });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

/** Polls the task until it reaches `status` (or fails the test after 45 s). */
async function taskWhen(id: string, statuses: string[]) {
  let task = (await admin.get(`/api/tasks/${id}`)).body;
  const deadline = Date.now() + 45_000;
  while (!statuses.includes(task.status) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    task = (await admin.get(`/api/tasks/${id}`)).body;
  }
  return task;
}

describe('agent with the real server', () => {
  it('claims a task, runs Claude on it, streams events and reports the result', async () => {
    const id = await createTask('Write hello.txt');
    const sent: string[] = [];
    startTestAgent(sent);

    const task = await taskWhen(id, ['completed', 'failed', 'cancelled']);
    expect(task.status).toBe('completed');
    expect(task.result).toMatchObject({ summary: 'Wrote hello.txt.' });
    expect(task.costUsd).toBeGreaterThan(0);
    expect(task.workers[0]).toMatchObject({ status: 'completed', exitCause: 'completed', turns: 2 });
    expect(task.workers[0].lastEventSeq).toBeGreaterThan(0);

    const events = (await admin.get(`/api/tasks/${id}/events`)).body.items;
    expect(events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['tool_use', 'assistant_text']),
    );
    const seqs = events.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // Claude saw the OAuth token only; the buildd server saw neither credential.
    expect(anthropic.credentialsSeen()).toEqual([`Bearer ${fakeOauthToken}`]);
    expect(sent.length).toBeGreaterThan(3);
    for (const request of sent) expect(request).not.toContain('sk-ant-');
  });

  it('stops a run soon after the task is cancelled on the server', async () => {
    const id = await createTask('SLOW: think for a long time');
    const logs = startTestAgent();
    await waitFor(() => logs.count('push channel connected') === 1, 10_000, 'the push channel');
    const running = await taskWhen(id, ['running']);
    expect(running.status).toBe('running');

    const cancelledAt = Date.now();
    expect((await admin.post(`/api/tasks/${id}/cancel`)).status).toBe(200);
    // A push `cancel` (or the next lease renewal's abort answer) stops the SDK run long before its
    // 30 s model reply.
    await waitFor(() => logs.count('run finished') === 1, 15_000, 'the run to stop');
    expect(Date.now() - cancelledAt).toBeLessThan(15_000);
    const stopping = logs.lines.find((l) => l.msg === 'stopping run');
    expect(stopping?.fields).toMatchObject({ cause: 'cancelled' });
    expect((await admin.get(`/api/tasks/${id}`)).body.status).toBe('cancelled');
  });
});

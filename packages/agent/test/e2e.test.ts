/**
 * The whole path with real parts: the real buildd server (PGlite, real HTTP on 127.0.0.1), a real
 * in-process agent with the real run (Claude Agent SDK → fake Messages API on 127.0.0.1).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from '../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { type RunningAgent, startAgent } from '../src/agent.ts';
import { fakeApiKey, fakeOauthToken, memoryLog, testConfig } from './support/agent-harness.ts';
import { type FakeAnthropic, startFakeAnthropic, text, write } from './support/fake-anthropic.ts';

let server: TestServer;
let anthropic: FakeAnthropic;
let agent: RunningAgent | undefined;
beforeAll(async () => {
  server = await startTestServer();
  anthropic = await startFakeAnthropic({
    script: [
      write('hello.txt', 'hello from buildd\n', { usage: { input_tokens: 1000, output_tokens: 100 } }),
      text('Wrote hello.txt.', { usage: { input_tokens: 1000, output_tokens: 50 } }),
    ],
  });
});
afterAll(async () => {
  await agent?.stop();
  await anthropic?.close();
  await server?.close();
});

describe('agent with the real server', () => {
  it('claims a task, runs Claude on it, streams events and reports the result', async () => {
    const admin = apiClient(server.url, server.adminKey);
    expect((await admin.post('/api/workspaces', { name: 'e2e' })).status).toBe(201);
    const created = await admin.post('/api/tasks', {
      workspaceId: 'e2e',
      title: 'Say hello',
      prompt: 'Write hello.txt',
    });
    expect(created.status).toBe(201);

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
    const sent: string[] = [];
    const recordingFetch: typeof fetch = (input, init) => {
      sent.push(`${String(input)} ${JSON.stringify(init?.headers)} ${String(init?.body ?? '')}`);
      return fetch(input, init);
    };
    agent = startAgent(config, { fetch: recordingFetch, log: memoryLog().log, channel: false });

    let task = created.body;
    const deadline = Date.now() + 45_000;
    while (!['completed', 'failed', 'cancelled'].includes(task.status) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      task = (await admin.get(`/api/tasks/${created.body.id}`)).body;
    }
    expect(task.status).toBe('completed');
    expect(task.result).toMatchObject({ summary: 'Wrote hello.txt.' });
    expect(task.costUsd).toBeGreaterThan(0);
    expect(task.workers[0]).toMatchObject({ status: 'completed', exitCause: 'completed', turns: 2 });
    expect(task.workers[0].lastEventSeq).toBeGreaterThan(0);

    const events = (await admin.get(`/api/tasks/${created.body.id}/events`)).body.items;
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
});

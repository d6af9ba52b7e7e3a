/**
 * Fault: a server that accepts the connection and never answers (a half-open socket, a hung proxy).
 * Every call of the agent must time out instead of hanging it; the agent logs it and goes on, and
 * once the server answers again it claims and finishes its task with no event lost or doubled —
 * also when the server did the work and only its answer was lost.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiClient } from '../../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../../server/test/support/server.ts';
import { type RunningAgent, startAgent } from '../../src/agent.ts';
import { createClient } from '../../src/server/client.ts';
import { ServerRequestError } from '../../src/server/request-error.ts';
import { memoryLog } from '../support/agent-harness.ts';
import { type FakeAnthropic, startFakeAnthropic, text, write } from '../support/fake-anthropic.ts';
import { makeOrigin, type Origin, tempDir } from '../support/git-fixtures.ts';
import { agentConfig, agentHome, removeAgentHomes, until } from './support/agent-process.ts';
import { figure, ledgerOf } from './support/ledger.ts';
import {
  type FaultProxy,
  type SilentServer,
  startFaultProxy,
  startSilentServer,
} from './support/silent-servers.ts';

let silent: SilentServer | undefined;
let proxy: FaultProxy | undefined;
let server: TestServer | undefined;
let anthropic: FakeAnthropic | undefined;
let agent: RunningAgent | undefined;
let root: string | undefined;

afterEach(async () => {
  await agent?.stop();
  removeAgentHomes();
  await proxy?.close();
  await silent?.close();
  await anthropic?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  agent = proxy = silent = anthropic = server = root = undefined;
});

describe('a server that never answers', () => {
  it('makes every client call time out, never hang', async () => {
    silent = await startSilentServer();
    const client = createClient({
      server: silent.url,
      apiKey: 'buildd_user_test_key_0123456789',
      timeoutMs: 500,
    });
    const calls = {
      me: () => client.me(),
      patch: () => client.patchWorker('wrk-1', { turns: 1 }),
      events: () =>
        client.postEvents('wrk-1', {
          events: [{ seq: 1, type: 'log', at: new Date().toISOString(), data: {} }],
        }),
    };
    for (const [name, call] of Object.entries(calls)) {
      const started = Date.now();
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      const took = Date.now() - started;
      expect(error, name).toBeInstanceOf(ServerRequestError);
      expect((error as ServerRequestError).failure, name).toBe('transient');
      expect((error as ServerRequestError).message, name).toContain('timed out after 500 ms');
      expect(took, name).toBeLessThan(3000);
    }
    // The requests did reach it: the silence is the server's, not a refused connection.
    expect(silent.connections).toBeGreaterThan(0);
    expect(silent.bytesRead).toBeGreaterThan(0);
  });
});

describe('an agent behind a server that hangs', () => {
  let origin: Origin;
  beforeEach(async () => {
    root = tempDir('buildd-fault-hang-');
    origin = makeOrigin(root);
    server = await startTestServer({ leaseSeconds: 60, renewSeconds: 2 });
    anthropic = await startFakeAnthropic({
      script: [write('hello.txt', 'hello\n'), text('Wrote hello.txt.')],
    });
  });

  it('times out, retries, then claims and completes with every event exactly once', async () => {
    const admin = apiClient(server!.url, server!.adminKey);
    expect((await admin.post('/api/workspaces', { name: 'hang', repoUrl: origin.url })).status).toBe(201);
    const created = await admin.post('/api/tasks', {
      workspaceId: 'hang',
      title: 'Write hello',
      prompt: 'Write hello.txt',
    });
    const taskId = created.body.id as string;

    // The first claim never reaches the server; the first event batch reaches it but its answer is lost.
    let claims = 0;
    let eventPosts = 0;
    proxy = await startFaultProxy(server!.url, (method, path) => {
      if (path === '/api/workers/claim' && ++claims === 1) return 'hang';
      if (method === 'POST' && path.endsWith('/events') && ++eventPosts === 1) return 'swallow';
      return 'forward';
    });
    const at = agentHome();
    const logs = memoryLog();
    const config = agentConfig(at, { server: proxy.url, apiKey: server!.adminKey, fakeUrl: anthropic!.url });
    const startedAt = Date.now();
    agent = startAgent(config, { log: logs.log, channel: false });

    const task = async () => (await admin.get(`/api/tasks/${taskId}`)).body;
    await until(
      async () => (await task()).status === 'completed',
      75_000,
      'the task to complete',
      async () => ({ task: await task(), log: logs.lines.slice(-15), proxied: proxy?.requests.length }),
    );
    const completedMs = Date.now() - startedAt;
    await agent.stop();
    agent = undefined;

    const timedOut = logs.lines.find((l) => l.msg === 'claim failed; retrying with backoff');
    expect(String(timedOut?.fields?.error)).toMatch(/timed out after \d+ ms/);
    expect(logs.count('claimed task')).toBe(1);

    const final = await task();
    const worker = final.workers[0];
    expect(final.workers).toHaveLength(1);
    expect(worker).toMatchObject({ status: 'completed', exitCause: 'completed' });
    expect(origin.readFile(worker.branch, 'hello.txt')).toBe('hello');

    // The swallowed batch was stored once and sent again; the server ignored the copies.
    const posts = proxy.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/events'));
    const sent = posts.reduce((n, r) => n + (JSON.parse(r.body).events as unknown[]).length, 0);
    const stored = posts.reduce(
      (n, r) => n + (r.answer ? (JSON.parse(r.answer.body).stored as number) : 0),
      0,
    );
    expect(posts[0]?.action).toBe('swallow');
    expect(sent - stored).toBeGreaterThan(0);

    const ledger = await ledgerOf(admin, taskId, worker.id);
    expect(ledger.lost).toBe(0);
    expect(ledger.duplicated).toBe(0);
    expect(ledger.stored).toBe(ledger.lastEventSeq);
    expect(ledger.last).toMatchObject({ type: 'status', data: { status: 'completed' } });

    figure('server never answers (hung claim, lost answer to an event batch)', {
      startToCompletedMs: completedMs,
      eventsProduced: ledger.lastEventSeq,
      eventsStored: ledger.stored,
      eventsLost: ledger.lost,
      eventsDuplicated: ledger.duplicated,
      resentIgnoredByServer: sent - stored,
    });
  });
});

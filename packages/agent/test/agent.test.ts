import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAgent } from '../src/agent.ts';
import {
  claimed,
  fakeApiKey,
  fakeOauthToken,
  memoryLog,
  pause,
  scriptedRuns,
  testConfig,
  waitFor,
} from './support/agent-harness.ts';
import { useFakeBuildd } from './support/fake-buildd.ts';

const buildd = useFakeBuildd();

const claims = () => buildd.fake.requests.filter((r) => r.path === '/api/workers/claim');

describe('startAgent', () => {
  it('claims on a tasks_available push, stops a run on a cancel push, and keeps the Bearer key on the channel', async () => {
    const worker = claimed();
    let hand: (typeof worker)[] = [];
    buildd.fake.route('POST', '/api/workers/claim', () => {
      const workers = hand;
      hand = [];
      return { status: 200, body: { workers } };
    });
    const runs = scriptedRuns();
    // Polling every 20 s: within this test only a push can cause a second claim.
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--poll-interval=20']), {
      runTask: runs.runTask,
      log: memoryLog().log,
    });
    await waitFor(
      () => buildd.fake.channelConnections.length === 1 && claims().length >= 1,
      5000,
      'channel and claim',
    );
    expect(buildd.fake.channelConnections[0]?.authorization).toBe('Bearer buildd_user_test_key_0123456789');
    // (Connecting is itself a hint: the agent claims once more right after, then waits 20 s.)
    await pause(300);
    const before = claims().length;
    hand = [worker];
    await pause(300);
    expect(claims().length).toBe(before);

    buildd.fake.push({ type: 'tasks_available' });
    await waitFor(() => runs.runs.length === 1, 3000, 'a claim caused by the push');

    buildd.fake.push({ type: 'cancel', workerId: worker.id, reason: 'cancelled' });
    await waitFor(() => runs.runs[0]?.ended === true, 3000, 'the cancel');
    expect(runs.runs[0]?.ctx.signal.reason).toBe('cancelled');
    await waitFor(
      () => buildd.fake.requests.some((r) => r.method === 'PATCH' && r.body?.status === 'cancelled'),
      3000,
      'a cancelled report',
    );
  });

  it('keeps polling when the push channel is unavailable', async () => {
    buildd.fake.refuseChannel(404);
    const logs = memoryLog();
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--poll-interval=0.2']), {
      runTask: scriptedRuns().runTask,
      log: logs.log,
    });
    await waitFor(() => claims().length >= 4, 5000, 'polling');
    expect(buildd.fake.channelConnections.length).toBeGreaterThanOrEqual(1);
    expect(logs.count('push channel connected')).toBe(0);
    expect(
      logs.lines.filter((l) => l.msg === 'push channel unavailable; polling continues')[0],
    ).toMatchObject({
      level: 'warn',
      fields: { error: 'the server answered 404 to the upgrade' },
    });
  });

  it('never sends a Claude credential to the buildd server', async () => {
    const worker = claimed(0.2);
    let given = false;
    buildd.fake.route('POST', '/api/workers/claim', () => {
      const workers = given ? [] : [worker];
      given = true;
      return { status: 200, body: { workers } };
    });
    const runs = scriptedRuns();
    const config = testConfig(buildd.fake.url, ['--poll-interval=0.2'], { ANTHROPIC_API_KEY: fakeApiKey });
    const logs = memoryLog();
    buildd.agent = startAgent(config, { runTask: runs.runTask, log: logs.log, session: { flushMs: 50 } });
    await waitFor(() => runs.runs.length === 1, 5000, 'a run');
    // The run got the chosen credential (and only it)…
    expect(runs.runs[0]?.ctx.claudeEnv.CLAUDE_CODE_OAUTH_TOKEN).toBe(fakeOauthToken);
    expect(runs.runs[0]?.ctx.claudeEnv).not.toHaveProperty('ANTHROPIC_API_KEY');
    runs.runs[0]?.ctx.reporter.event('log', { text: 'hello' });
    await pause(500);
    runs.runs[0]?.finish();
    await buildd.agent?.stop();
    buildd.agent = undefined;
    // …and no request to the server carried either one, in any header or body.
    expect(buildd.fake.requests.length).toBeGreaterThan(5);
    for (const req of [
      ...buildd.fake.requests,
      ...buildd.fake.channelConnections.map((headers) => ({ headers, raw: '' })),
    ]) {
      const everything = JSON.stringify(req.headers) + req.raw;
      expect(everything).not.toContain(fakeOauthToken);
      expect(everything).not.toContain(fakeApiKey);
      expect(everything).not.toContain('sk-ant-');
    }
  });

  it('fails fast with a clear message when the server rejects the API key', async () => {
    buildd.fake.route('GET', '/api/me', () => ({
      status: 401,
      body: { error: { code: 'unauthenticated', message: 'unknown key' } },
    }));
    buildd.agent = startAgent(testConfig(buildd.fake.url), {
      runTask: scriptedRuns().runTask,
      log: memoryLog().log,
      channel: false,
    });
    await expect(buildd.agent!.done).rejects.toThrow(/rejected the API key .*unknown key.*BUILDD_API_KEY/);
    expect(claims()).toHaveLength(0);
  });

  it('stops when a claim is refused for good', async () => {
    buildd.fake.route('POST', '/api/workers/claim', () => ({
      status: 403,
      body: { error: { code: 'forbidden', message: 'this account may not claim' } },
    }));
    buildd.agent = startAgent(testConfig(buildd.fake.url), {
      runTask: scriptedRuns().runTask,
      log: memoryLog().log,
      channel: false,
    });
    await expect(buildd.agent!.done).rejects.toThrow(/refused this account/);
    expect(claims()).toHaveLength(1);
  });

  it('resolves workspace names to ids, and refuses an unknown name', async () => {
    const ws = { id: 'ws-42', name: 'alpha', repoUrl: null, defaultBranch: 'main', access: 'open' };
    const item = { ...ws, maxRunningTasks: null, config: {}, createdAt: new Date().toISOString() };
    buildd.fake.route('GET', '/api/workspaces', () => ({
      status: 200,
      body: { items: [item], nextCursor: null },
    }));
    const runTask = scriptedRuns().runTask;
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--workspace=alpha,ws-7']), {
      runTask,
      log: memoryLog().log,
      channel: false,
    });
    await waitFor(() => claims().length >= 1, 5000, 'a claim');
    expect(claims()[0]?.body.workspaceIds).toEqual(['ws-42', 'ws-7']);
    await buildd.agent?.stop();

    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--workspace=beta']), {
      runTask,
      log: memoryLog().log,
      channel: false,
    });
    await expect(buildd.agent!.done).rejects.toThrow(
      "workspace 'beta' does not exist or this account cannot see it",
    );
  });

  it('refuses a second agent on the same data dir, and takes over a lock left by a dead one', async () => {
    const config = testConfig(buildd.fake.url, ['--poll-interval=0.2']);
    const deps = { runTask: scriptedRuns().runTask, log: memoryLog().log, channel: false };
    buildd.agent = startAgent(config, deps);
    await waitFor(() => claims().length >= 1, 5000, 'the first agent');
    const second = startAgent(config, deps);
    await expect(second.done).rejects.toThrow(
      `another buildd-agent (pid ${process.pid}) is using the data dir ${config.dataDir}: stop it, or give this one its own --data-dir`,
    );
    await buildd.agent?.stop();

    // A lock whose process is gone (kill -9) does not block the next start.
    writeFileSync(join(config.dataDir, 'agent.lock'), '2147483646 stale');
    buildd.agent = startAgent(config, deps);
    const before = claims().length;
    await waitFor(() => claims().length > before, 5000, 'the restarted agent');
  });
});

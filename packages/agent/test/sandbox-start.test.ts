/** How an agent starts with and without a sandbox, and with an admin key. */
import { describe, expect, it } from 'vitest';
import { startAgent } from '../src/agent.ts';
import { checkSandbox } from '../src/host/sandbox-check.ts';
import { claimed, memoryLog, scriptedRuns, testConfig, waitFor } from './support/agent-harness.ts';
import { useFakeBuildd } from './support/fake-buildd.ts';

const buildd = useFakeBuildd();

describe('the sandbox at start', () => {
  it('finds bubblewrap on this machine, and says how to install it where it is missing', () => {
    expect(checkSandbox()).toEqual({ available: true });
    const missing = checkSandbox('/nonexistent');
    expect(missing.available).toBe(false);
    expect(!missing.available && missing.problem).toMatch(
      /bubblewrap \(bwrap\) is not installed: .*apt-get install -y bubblewrap socat/,
    );
  });

  it('refuses to run tasks without a sandbox, and claims nothing', async () => {
    const logs = memoryLog();
    buildd.agent = startAgent(testConfig(buildd.fake.url), {
      log: logs.log,
      runTask: scriptedRuns().runTask,
      checkSandbox: () => checkSandbox('/nonexistent'),
    });
    await expect(buildd.agent.done).rejects.toThrow(
      /cannot run tasks in the sandbox: bubblewrap \(bwrap\) is not installed.*--no-sandbox/,
    );
    expect(buildd.fake.requests.filter((r) => r.path === '/api/workers/claim')).toHaveLength(0);
  });

  it('runs unsandboxed only with --no-sandbox, says so in its log and reports it on claim and worker', async () => {
    const worker = claimed();
    let handed = false;
    buildd.fake.route('POST', '/api/workers/claim', () => {
      const workers = handed ? [] : [worker];
      handed = true;
      return { status: 200, body: { workers } };
    });
    const logs = memoryLog();
    const runs = scriptedRuns();
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--no-sandbox', '--poll-interval=0.2']), {
      log: logs.log,
      runTask: runs.runTask,
      checkSandbox: () => checkSandbox('/nonexistent'),
    });
    await waitFor(() => runs.runs.length === 1, 30_000, 'a run');
    expect(runs.runs[0]?.ctx.sandbox).toBeNull();
    expect(logs.lines.find((l) => /WITHOUT a sandbox/.test(l.msg))?.level).toBe('warn');
    const claim = buildd.fake.requests.find((r) => r.path === '/api/workers/claim');
    expect(claim?.body.sandboxed).toBe(false);
    await waitFor(() => buildd.fake.requests.some((r) => r.method === 'PATCH'), 30_000, 'the first PATCH');
    const first = buildd.fake.requests.find((r) => r.method === 'PATCH');
    expect(first?.body).toMatchObject({ status: 'running', sandboxed: false });
    runs.runs[0]?.finish();
  });

  it('reports a sandboxed worker and hands the run its sandbox policy', async () => {
    const worker = claimed();
    buildd.fake.route('POST', '/api/workers/claim', () => ({ status: 200, body: { workers: [worker] } }));
    const runs = scriptedRuns();
    const config = testConfig(buildd.fake.url, ['--max-tasks=1']);
    buildd.agent = startAgent(config, { log: memoryLog().log, runTask: runs.runTask });
    await waitFor(() => runs.runs.length === 1, 30_000, 'a run');
    expect(runs.runs[0]?.ctx.sandbox?.deniedReadPaths).toContain(config.dataDir);
    expect(runs.runs[0]?.ctx.sandbox?.deniedEnvVars).toEqual(
      expect.arrayContaining(['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'BUILDD_API_KEY']),
    );
    await waitFor(() => buildd.fake.requests.some((r) => r.method === 'PATCH'), 30_000, 'the first PATCH');
    expect(buildd.fake.requests.find((r) => r.method === 'PATCH')?.body.sandboxed).toBe(true);
    runs.runs[0]?.finish();
  });
});

describe('an admin key', () => {
  it('is named in the log with a suggestion to use a service or member key', async () => {
    buildd.fake.route('GET', '/api/me', () => ({
      status: 200,
      body: {
        account: {
          id: 'acct-admin',
          name: 'admin',
          type: 'user',
          level: 'admin',
          maxConcurrentWorkers: 3,
          maxConcurrentSessions: 2,
          maxCostPerDayUsd: null,
          createdAt: new Date(0).toISOString(),
        },
      },
    }));
    const logs = memoryLog();
    buildd.agent = startAgent(testConfig(buildd.fake.url), {
      log: logs.log,
      runTask: scriptedRuns().runTask,
    });
    await waitFor(() => logs.lines.some((l) => /admin key/.test(l.msg)), 30_000, 'the warning');
    const warning = logs.lines.find((l) => /admin key/.test(l.msg));
    expect(warning?.level).toBe('warn');
    expect(warning?.msg).toMatch(/service or member account/);
  });
});

/** Health and auto-recovery: the health endpoint, the watchdog, and an agent that says why it cannot claim. */
import { describe, expect, it } from 'vitest';
import { startAgent } from '../src/agent.ts';
import type { RunTask } from '../src/claim/worker-session.ts';
import { claimed, memoryLog, scriptedRuns, testConfig, waitFor } from './support/agent-harness.ts';
import { useFakeBuildd } from './support/fake-buildd.ts';

const buildd = useFakeBuildd();
const claims = () => buildd.fake.requests.filter((r) => r.path === '/api/workers/claim');

async function health(url: string) {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('--health-port', () => {
  it('serves the claim loop, server contact, running tasks, spool depth and sandbox; 503 once unhealthy', async () => {
    const worker = claimed();
    let refuse = false;
    let handed = false;
    buildd.fake.route('POST', '/api/workers/claim', () => {
      if (refuse) return { status: 401, body: { error: { code: 'unauthorized', message: 'key revoked' } } };
      const workers = handed ? [] : [worker];
      handed = true;
      return { status: 200, body: { workers } };
    });
    const runs = scriptedRuns();
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--health-port=0', '--poll-interval=0.2']), {
      log: memoryLog().log,
      runTask: runs.runTask,
    });
    await waitFor(() => runs.runs.length === 1, 30_000, 'a run');
    const url = buildd.agent.healthUrl() as string;
    const ok = await health(url);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      healthy: true,
      problems: [],
      claimLoop: { alive: true, restarts: 0 },
      runningTasks: 1,
      sandbox: { enabled: true, available: true },
    });
    expect(typeof ok.body.spoolDepth).toBe('number');
    expect(Date.parse(ok.body.lastServerContactAt)).toBeGreaterThan(0);

    runs.runs[0]?.ctx.reporter.event('log', { text: 'x' });
    // The key is revoked: the claim loop stops for good.
    refuse = true;
    let sick = await health(url);
    for (let i = 0; i < 100 && sick.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      sick = await health(url);
    }
    expect(sick.status).toBe(503);
    expect(sick.body.healthy).toBe(false);
    expect(sick.body.problems.join(' ')).toMatch(/refuses this agent.*401/);
    runs.runs[0]?.finish();
  });
});

describe('the watchdog', () => {
  it('restarts a claim loop whose request never comes back', async () => {
    let release = () => {};
    let calls = 0;
    // A claim that hangs and ignores its timeout (what a wedged socket or library can do).
    const fetchOf: typeof fetch = (input, init) => {
      if (String(input).endsWith('/api/workers/claim') && ++calls === 1) {
        return new Promise<Response>((resolve) => {
          release = () => resolve(new Response(JSON.stringify({ workers: [] }), { status: 200 }));
        });
      }
      return fetch(input, init);
    };
    const logs = memoryLog();
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--poll-interval=0.2']), {
      log: logs.log,
      runTask: scriptedRuns().runTask,
      fetch: fetchOf,
      channel: false,
      watchdog: { intervalMs: 50, stallGraceMs: 100 },
    });
    // The client gives a claim 10 s; the watchdog steps in once that and the grace have passed.
    await waitFor(() => logs.count('the claim loop is stalled; restarting it') >= 1, 30_000, 'the restart');
    await waitFor(() => claims().length >= 1, 30_000, 'a claim after the restart');
    release();
  });

  it('abandons a run past its hard timeout, reports it failed/timeout and frees its slot', async () => {
    const worker = claimed();
    let handed = 0;
    buildd.fake.route('POST', '/api/workers/claim', () => {
      handed += 1;
      return { status: 200, body: { workers: handed === 1 ? [worker] : [] } };
    });
    // A run that ignores its abort and never ends.
    const stuck: RunTask = () => new Promise(() => {});
    const logs = memoryLog();
    buildd.agent = startAgent(
      testConfig(buildd.fake.url, ['--task-timeout=0.01', '--max-tasks=1', '--poll-interval=0.2']),
      {
        log: logs.log,
        runTask: stuck,
        watchdog: { intervalMs: 50, hardTimeoutGraceMs: 100 },
      },
    );
    await waitFor(
      () => buildd.fake.requests.some((r) => r.method === 'PATCH' && r.body?.status === 'failed'),
      30_000,
      'the final report',
    );
    const final = buildd.fake.requests.find((r) => r.method === 'PATCH' && r.body?.status === 'failed');
    expect(final?.body).toMatchObject({ exitCause: 'timeout' });
    expect(final?.body.error).toMatch(/did not stop after its time limit/);
    expect(logs.count('a run is past its hard timeout; abandoning it')).toBe(1);
    // The slot is free again: the agent claims with its one slot.
    const before = handed;
    await waitFor(() => handed > before, 30_000, 'a claim for the freed slot');
  });
});

describe('an agent that cannot claim', () => {
  it('says why in its log, once per reason', async () => {
    buildd.fake.route('POST', '/api/workers/claim', () => ({
      status: 200,
      body: {
        workers: [],
        diagnostics: {
          reason: 'capability_mismatch',
          message: 'pending tasks need capabilities this agent lacks: gpu',
        },
      },
    }));
    const logs = memoryLog();
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--poll-interval=0.1']), {
      log: logs.log,
      runTask: scriptedRuns().runTask,
    });
    await waitFor(() => claims().length >= 4, 30_000, 'several claims');
    const lines = logs.lines.filter((l) => l.msg.startsWith('cannot claim'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: 'cannot claim: pending tasks need capabilities this agent lacks: gpu',
      fields: { reason: 'capability_mismatch' },
    });
  });
});

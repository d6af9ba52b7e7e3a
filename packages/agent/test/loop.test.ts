import type { ClaimedWorker } from '@buildd/protocol';
import { describe, expect, it } from 'vitest';
import { startAgent } from '../src/agent.ts';
import {
  claimed,
  memoryLog,
  outcomeOf,
  pause,
  scriptedRuns,
  testConfig,
  waitFor,
} from './support/agent-harness.ts';
import { type Recorded, useFakeBuildd } from './support/fake-buildd.ts';

const buildd = useFakeBuildd();

const claims = () => buildd.fake.requests.filter((r) => r.path === '/api/workers/claim');
const finalPatches = () =>
  buildd.fake.requests.filter(
    (r) => r.method === 'PATCH' && ['completed', 'failed', 'cancelled'].includes(r.body?.status),
  );

/** Makes the fake hand out `count` tasks, as many per claim as asked for. */
function serveTasks(count: number): ClaimedWorker[] {
  const all = Array.from({ length: count }, () => claimed());
  const queue = [...all];
  buildd.fake.route('POST', '/api/workers/claim', (req: Recorded) => ({
    status: 200,
    body: { workers: queue.splice(0, req.body.maxTasks) },
  }));
  return all;
}

describe('claim loop', () => {
  it('never runs more than --max-tasks, asks only for free slots, and claims again as soon as a run ends', async () => {
    serveTasks(4);
    const runs = scriptedRuns();
    // A long poll interval: a claim within it can only come from a run ending.
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--max-tasks=2', '--poll-interval=20']), {
      runTask: runs.runTask,
      log: memoryLog().log,
      channel: false,
    });
    await waitFor(() => runs.runs.length === 2, 5000, 'two runs');
    await pause(300);
    expect(claims().map((c) => c.body.maxTasks)).toEqual([2]);
    expect(claims()[0]?.body).toMatchObject({ agentName: 'test-agent', authType: 'oauth', waitSeconds: 20 });
    expect(claims()[0]?.body.capabilities).toEqual(expect.arrayContaining(['node', 'linux']));

    const started = Date.now();
    runs.runs[0]?.finish();
    await waitFor(() => runs.runs.length === 3, 3000, 'a third run');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(claims().at(-1)?.body.maxTasks).toBe(1);

    for (const run of runs.runs) run.finish();
    await waitFor(() => runs.runs.length === 4, 3000, 'a fourth run');
    runs.runs[3]?.finish();
    await waitFor(() => finalPatches().length === 4, 3000, 'four final reports');
    expect(runs.maxActive).toBe(2);
    expect(finalPatches().map((p) => p.body)).toEqual(
      Array(4).fill(
        expect.objectContaining({ status: 'completed', exitCause: 'completed', costUsd: 0.01, turns: 2 }),
      ),
    );
  });

  it('waits out a 429 for retryAfterSeconds and logs the limit once', async () => {
    let n = 0;
    buildd.fake.route('POST', '/api/workers/claim', () => {
      n += 1;
      if (n > 2) return { status: 200, body: { workers: [] } };
      const details = { limit: 5, current: 5, retryAfterSeconds: 1, resetsAt: '2030-01-01T00:00:00Z' };
      return {
        status: 429,
        body: { error: { code: 'cost_limit', message: 'daily cost cap reached', details } },
      };
    });
    const logs = memoryLog();
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--poll-interval=0.1']), {
      runTask: scriptedRuns().runTask,
      log: logs.log,
      channel: false,
    });
    await waitFor(() => claims().length >= 3, 6000, 'three claims');
    const at = claims().map((c) => c.at);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(950);
    expect(logs.count('claims paused by a limit')).toBe(1);
    expect(logs.lines.find((l) => l.msg === 'claims paused by a limit')?.fields).toMatchObject({
      limit: 'cost_limit',
      resetsAt: '2030-01-01T00:00:00Z',
    });
  });

  it('backs off while the server is unreachable and resumes when it answers', async () => {
    buildd.fake.setDown(true);
    const logs = memoryLog();
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--poll-interval=0.1']), {
      runTask: scriptedRuns().runTask,
      log: logs.log,
      channel: false,
    });
    // Polling every 0.1 s would claim ten times a second; the backoff waits 0.5–1 s, then 1–2 s, 2–4 s…
    // Lower bounds only: a busy machine can make the agent slower, never its timers early.
    await waitFor(() => claims().length >= 3, 30_000, 'three claim attempts');
    const [first, second, third] = claims().map((c) => c.at);
    expect(second! - first!).toBeGreaterThanOrEqual(450);
    expect(third! - second!).toBeGreaterThanOrEqual(950);
    expect(logs.count('claim failed; retrying with backoff')).toBe(1);

    buildd.fake.setDown(false);
    // The next attempt comes within the current backoff step (at most 8 s here).
    await waitFor(() => logs.count('buildd server reachable again') === 1, 15_000, 'recovery');
  });

  it('excludes tasks it just failed and pauses after repeated failures', async () => {
    serveTasks(5);
    const logs = memoryLog();
    const failing = async (worker: ClaimedWorker) => ({
      ...outcomeOf(worker),
      status: 'failed' as const,
      exitCause: 'api_error' as const,
      error: 'overloaded',
    });
    buildd.agent = startAgent(testConfig(buildd.fake.url, ['--max-tasks=1', '--poll-interval=0.1']), {
      runTask: failing,
      log: logs.log,
      channel: false,
    });
    await waitFor(() => finalPatches().length === 3, 5000, 'three failed runs');
    await pause(1000);
    // No fourth claim: three failures in a row pause claiming (30 s or more), no burn loop.
    expect(claims().length).toBe(3);
    expect(logs.count('several runs failed in a row; pausing claims')).toBe(1);
    const [first, second, third] = claims().map((c) => c.body.excludeTaskIds);
    expect(first).toBeUndefined();
    expect(second).toHaveLength(1);
    expect(third).toHaveLength(2);
    expect(third).toContain(second?.[0]);
  });

  it('at shutdown waits for a claim in flight and gives back what it returns without running it', async () => {
    const worker = claimed();
    buildd.fake.route('POST', '/api/workers/claim', async () => {
      await pause(400);
      return { status: 200, body: { workers: [worker] } };
    });
    const runs = scriptedRuns();
    buildd.agent = startAgent(testConfig(buildd.fake.url), {
      runTask: runs.runTask,
      log: memoryLog().log,
      channel: false,
    });
    await waitFor(() => claims().length === 1, 5000, 'a claim in flight');
    await buildd.agent?.stop();
    expect(runs.runs).toHaveLength(0);
    expect(finalPatches().map((p) => [p.path, p.body.status, p.body.exitCause])).toEqual([
      [`/api/workers/${worker.id}`, 'failed', 'shutdown'],
    ]);
  });
});

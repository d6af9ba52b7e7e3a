import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAgent } from '../src/agent.ts';
import { Spool } from '../src/delivery/spool.ts';
import { claimed, memoryLog, pause, scriptedRuns, testConfig, waitFor } from './support/agent-harness.ts';
import { useFakeBuildd } from './support/fake-buildd.ts';

const buildd = useFakeBuildd();

const patchesOf = (workerId: string) =>
  buildd.fake.requests.filter((r) => r.method === 'PATCH' && r.path === `/api/workers/${workerId}`);

/** Hands out exactly one worker, on the first claim. */
function serveOne(renewSeconds = 15) {
  const worker = claimed(renewSeconds);
  let given = false;
  buildd.fake.route('POST', '/api/workers/claim', () => {
    const workers = given ? [] : [worker];
    given = true;
    return { status: 200, body: { workers } };
  });
  return worker;
}

function start(flags: string[] = []) {
  const runs = scriptedRuns();
  buildd.agent = startAgent(testConfig(buildd.fake.url, ['--poll-interval=0.2', ...flags]), {
    runTask: runs.runTask,
    log: memoryLog().log,
    channel: false,
    session: { flushMs: 50, progressMs: 100 },
  });
  return runs;
}

describe('worker session', () => {
  it('marks the worker running, streams events in seq order and sends throttled cumulative progress', async () => {
    const worker = serveOne();
    const runs = start();
    await waitFor(() => runs.runs.length === 1);
    const run = runs.runs[0]!;
    for (let i = 0; i < 150; i++) run.ctx.reporter.event('assistant_text', { text: `line ${i}` });
    for (let t = 1; t <= 20; t++)
      run.ctx.reporter.progress({ turns: t, costUsd: t / 100, currentAction: `step ${t}` });
    await pause(400);
    run.finish({ turns: 20, costUsd: 0.2 });
    await waitFor(
      () => patchesOf(worker.id).some((p) => p.body.status === 'completed'),
      5000,
      'final report',
    );

    const patches = patchesOf(worker.id).map((p) => p.body);
    expect(patches[0]).toMatchObject({ status: 'running' });
    // 20 progress calls in a burst become one or two PATCHes carrying the latest totals.
    const progress = patches.filter((p) => p.turns !== undefined && p.status === undefined);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(3);
    expect(progress.at(-1)).toMatchObject({ turns: 20, costUsd: 0.2, currentAction: 'step 20' });
    expect(patches.at(-1)).toMatchObject({
      status: 'completed',
      turns: 20,
      costUsd: 0.2,
      currentAction: null,
    });

    const seqs = buildd.fake.requests
      .filter((r) => r.path === `/api/workers/${worker.id}/events`)
      .flatMap((r) => r.body.events.map((e: { seq: number }) => e.seq));
    expect(seqs).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    // Every event batch went out before the final report.
    const lastEvents = buildd.fake.requests.findLastIndex((r) => r.path.endsWith('/events'));
    const final = buildd.fake.requests.findIndex(
      (r) => r.method === 'PATCH' && r.body.status === 'completed',
    );
    expect(lastEvents).toBeLessThan(final);
  });

  it('renews the lease on its own timer while the run is silent', async () => {
    const worker = serveOne(0.2);
    const runs = start();
    await waitFor(() => runs.runs.length === 1);
    await pause(1100);
    // No progress at all, yet the lease was renewed about every 0.2 s.
    expect(patchesOf(worker.id).length).toBeGreaterThanOrEqual(4);
    runs.runs[0]?.finish();
  });

  it.each([
    ['an abort answer', { status: 200, body: { abort: true, reason: 'cost_limit' } }, 'cost_limit'],
    ['a 409', { status: 409, body: { error: { code: 'worker_not_live', message: 'gone' } } }, 'lease_lost'],
  ])('stops the run on %s to a PATCH', async (_what, reply, cause) => {
    const worker = serveOne(0.2);
    let patches = 0;
    buildd.fake.route('PATCH', `/api/workers/${worker.id}`, () => (++patches > 1 ? reply : undefined));
    const runs = start();
    await waitFor(() => runs.runs[0]?.ended === true, 5000, 'the run to stop');
    expect(runs.runs[0]?.ctx.signal.reason).toBe(cause);
  });

  it('on shutdown lets runs finish for the grace period, then aborts them and reports failed/shutdown', async () => {
    const worker = serveOne();
    const runs = start(['--grace-period=0.3']);
    await waitFor(() => runs.runs.length === 1);
    const started = Date.now();
    await buildd.agent?.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(runs.runs[0]?.ctx.signal.reason).toBe('shutdown');
    expect(patchesOf(worker.id).at(-1)?.body).toMatchObject({ status: 'failed', exitCause: 'shutdown' });
  });

  it('on shutdown waits for a run that ends within the grace period and reports it as it ended', async () => {
    const worker = serveOne();
    const runs = start(['--grace-period=5']);
    await waitFor(() => runs.runs.length === 1);
    setTimeout(() => runs.runs[0]?.finish(), 200);
    await buildd.agent?.stop();
    expect(runs.runs[0]?.ctx.signal.aborted).toBe(false);
    expect(patchesOf(worker.id).at(-1)?.body).toMatchObject({ status: 'completed' });
  });

  it('keeps the final report on disk when the server is down at the end, and replays it at the next start', async () => {
    const worker = serveOne();
    const config = testConfig(buildd.fake.url, ['--poll-interval=0.2', '--grace-period=0']);
    const runs = scriptedRuns();
    const options = { log: memoryLog().log, channel: false, session: { flushMs: 50, finalDeliveryMs: 200 } };
    buildd.agent = startAgent(config, { ...options, runTask: runs.runTask });
    await waitFor(() => runs.runs.length === 1);
    runs.runs[0]?.ctx.reporter.event('log', { text: 'kept' });
    buildd.fake.setDown(true);
    runs.runs[0]?.finish();
    await pause(300);
    await buildd.agent?.stop();
    // Nothing got through (the events failed first, and order holds), so it is all on disk.
    expect(await Spool.list(config.dataDir)).toEqual([worker.id]);
    expect((await Spool.open(config.dataDir, worker.id)).finished).toBe(true);

    buildd.fake.setDown(false);
    buildd.fake.requests.length = 0;
    buildd.agent = startAgent(config, { ...options, runTask: scriptedRuns().runTask });
    await waitFor(
      () => patchesOf(worker.id).some((p) => p.body.status === 'completed'),
      5000,
      'replayed report',
    );
    const paths = buildd.fake.requests
      .filter((r) => r.path.startsWith(`/api/workers/${worker.id}`))
      .map((r) => r.method);
    expect(paths).toEqual(['POST', 'PATCH']);
    await waitFor(
      () => existsSync(join(config.dataDir, 'spool', `${worker.id}.jsonl`)) === false,
      2000,
      'spool gone',
    );
  });
});

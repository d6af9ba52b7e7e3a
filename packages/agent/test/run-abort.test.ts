/**
 * Stopping a run: cancellation mid-tool, the caller's other abort reasons, and the wall-clock
 * timeout. The real SDK runs against the fake Messages API; afterwards no process of the run may be left.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTask } from '../src/run/run-task.ts';
import { bash, type Step, text } from './support/fake-anthropic.ts';
import { makeContext, makeWorker, useRunFixtures } from './support/run-fixtures.ts';

const box = useRunFixtures();
const setup = (script: Step[]) => box.start(script, { apiKey: 'sk-ant-test-abort' });

/** Pids whose command line contains `marker`, or whose working directory is under `dir`. */
function processes(match: { marker?: string; dir?: string }): string[] {
  return readdirSync('/proc').filter((pid) => {
    if (!/^\d+$/.test(pid) || pid === String(process.pid)) return false;
    try {
      if (match.marker && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(match.marker)) return true;
      return match.dir !== undefined && readlinkSync(`/proc/${pid}/cwd`).startsWith(match.dir);
    } catch {
      return false; // the process ended while we looked
    }
  });
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('stopping a run', () => {
  it('cancels during a slow Bash tool within seconds and leaves no process behind', async () => {
    // A unique sleep length marks the tool's process in /proc.
    const seconds = `30.${Math.floor(Math.random() * 1e6)}`;
    const { dataDir, claudeEnv } = await setup([
      bash(`python3 -c "import time; time.sleep(${seconds})"`),
      text('should never be asked'),
    ]);
    const controller = new AbortController();
    const worker = makeWorker({ workspace: { repoUrl: box.origin.url } });
    const running = runTask(worker, makeContext({ dataDir, claudeEnv, signal: controller.signal }));
    await waitFor(() => processes({ marker: seconds }).length > 0, 30_000);
    const abortedAt = Date.now();
    controller.abort('cancelled');
    const outcome = await running;

    expect(outcome).toMatchObject({ status: 'cancelled', exitCause: 'cancelled', branch: worker.branch });
    expect(Date.now() - abortedAt).toBeLessThan(8_000);
    expect(processes({ marker: seconds })).toEqual([]);
    expect(processes({ dir: dataDir })).toEqual([]);
    expect(box.origin.hasBranch(worker.branch)).toBe(false);
    // Only the cache's spare worktree, made ahead for the next task, may be left.
    expect(readdirSync(join(dataDir, 'worktrees')).filter((name) => !name.startsWith('.spare-'))).toEqual([]);
  });

  it.each([
    ['shutdown', 'shutdown'],
    ['lease_lost', 'lost'],
    ['cost_limit', 'cost_limit'],
  ] as const)('reports an abort for %s as failed/%s', async (reason, exitCause) => {
    const { fake, dataDir, claudeEnv } = await setup([text('too late', { delayMs: 20_000 })]);
    const controller = new AbortController();
    const running = runTask(makeWorker(), makeContext({ dataDir, claudeEnv, signal: controller.signal }));
    await waitFor(() => fake.requests.length > 0, 30_000);
    controller.abort(reason);
    const outcome = await running;
    expect(outcome).toMatchObject({ status: 'failed', exitCause });
    expect(outcome.error).toBeTruthy();
    expect(processes({ dir: dataDir })).toEqual([]);
  });

  it('fails with exitCause timeout when the run outlives timeoutMs', async () => {
    const { dataDir, claudeEnv } = await setup([text('too slow', { delayMs: 20_000 })]);
    const outcome = await runTask(makeWorker(), makeContext({ dataDir, claudeEnv, timeoutMs: 1_500 }));
    expect(outcome).toMatchObject({ status: 'failed', exitCause: 'timeout' });
    expect(outcome.error).toMatch(/time limit/);
    expect(processes({ dir: dataDir })).toEqual([]);
  });

  it('kills a background process the model left behind in a completed run', async () => {
    const seconds = `31.${Math.floor(Math.random() * 1e6)}`;
    const { dataDir, claudeEnv } = await setup([
      bash(`nohup python3 -c "import time; time.sleep(${seconds})" > /dev/null 2>&1 &`),
      text('started a server and left'),
    ]);
    const outcome = await runTask(makeWorker(), makeContext({ dataDir, claudeEnv }));
    expect(outcome.status).toBe('completed');
    expect(processes({ marker: seconds })).toEqual([]);
  });

  it('does not start at all when the signal is already aborted', async () => {
    const { fake, dataDir, claudeEnv } = await setup([text('never asked')]);
    const signal = AbortSignal.abort('cancelled');
    const outcome = await runTask(makeWorker(), makeContext({ dataDir, claudeEnv, signal }));
    expect(outcome).toMatchObject({ status: 'cancelled', exitCause: 'cancelled', costUsd: 0 });
    expect(fake.requests).toHaveLength(0);
  });
});

/**
 * Fault: the agent process dies (`kill -9`) in the middle of a task. The real server (short lease,
 * reaper every second) must notice, give the task to another agent process, and count nothing twice;
 * the dead agent's spool must still deliver what it had kept once that agent starts again.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient, makeAccount } from '../../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../../server/test/support/server.ts';
import { bash, type FakeAnthropic, startFakeAnthropic, text, write } from '../support/fake-anthropic.ts';
import { makeOrigin, type Origin, tempDir } from '../support/git-fixtures.ts';
import { killAgentTree, killAllAgents, spawnAgent, until } from './support/agent-process.ts';
import { figure, ledgerOf } from './support/ledger.ts';

const leaseSeconds = 4;
const usage = { input_tokens: 2000, output_tokens: 200 };

let server: TestServer;
let admin: ApiClient;
let anthropic: FakeAnthropic;
let root: string;
let origin: Origin;

beforeEach(async () => {
  server = await startTestServer({ leaseSeconds, renewSeconds: 1, reapIntervalSeconds: 1 });
  admin = apiClient(server.url, server.adminKey);
  root = tempDir('buildd-fault-kill-');
  origin = makeOrigin(root);
  anthropic = await startFakeAnthropic({
    // Every session (the first agent's and the second's) walks the same script; the Bash step is
    // slow so the first agent is surely mid-run when it is killed.
    script: [
      write('notes.txt', 'started\n', { usage }),
      bash('python3 -c "import time; time.sleep(5)"', { usage }),
      write('done.txt', 'done\n', { usage }),
      text('Wrote notes.txt and done.txt.', { usage }),
    ],
  });
});
afterEach(async () => {
  await killAllAgents();
  await anthropic?.close();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('an agent killed mid-task', () => {
  it('loses its lease; a second agent re-runs the task to completion and nothing is counted twice', async () => {
    const account = await makeAccount(admin, server.url, { name: 'kill-test' });
    const ws = await admin.post('/api/workspaces', { name: 'kill', repoUrl: origin.url });
    expect(ws.status).toBe(201);
    const created = await account.api.post('/api/tasks', {
      workspaceId: 'kill',
      title: 'Write two files',
      prompt: 'Write notes.txt, think, then write done.txt.',
    });
    expect(created.status).toBe(201);
    const taskId = created.body.id as string;
    const task = () => account.api.get(`/api/tasks/${taskId}`).then((r) => r.body);

    const first = spawnAgent({
      server: server.url,
      apiKey: account.key,
      fakeUrl: anthropic.url,
      name: 'first',
    });
    await until(async () => (await task()).workers.length === 1, 30_000, 'the first agent to claim');
    const firstWorkerId = (await task()).workers[0].id as string;
    // A second agent already running elsewhere, idle: the task can only come to it after the reaper.
    const second = spawnAgent({
      server: server.url,
      apiKey: account.key,
      fakeUrl: anthropic.url,
      name: 'second',
    });
    await until(
      () => anthropic.requests.some((r) => r.step?.kind === 'tool' && r.step.name === 'Bash'),
      30_000,
      'the first run to reach its slow step',
    );
    // …and has reported some cost: the lost worker's share must be counted exactly once too.
    await until(async () => (await task()).workers[0].costUsd > 0, 10_000, 'the first run to report cost');
    expect((await task()).status).toBe('running');

    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    // The machine is gone: its Claude Code child and tools go with it.
    await killAgentTree(first);

    await until(async () => (await task()).workers.length === 2, 4 * leaseSeconds * 1000, 'a second claim');
    const reclaimed = await task();
    const secondWorker = reclaimed.workers.find((w: { id: string }) => w.id !== firstWorkerId);
    const recoveryMs = Date.parse(secondWorker.createdAt) - killedAt;

    await until(
      async () => (await task()).status === 'completed',
      45_000,
      'the task to complete',
      async () => ({ task: await task(), log: second.log().split('\n').slice(-15) }),
    );
    second.child.kill('SIGTERM');
    await second.exited;

    // The first agent comes back on the same machine: it replays whatever its spool still held.
    const beforeReplay = await ledgerOf(admin, taskId, firstWorkerId);
    const again = spawnAgent({
      server: server.url,
      apiKey: account.key,
      fakeUrl: anthropic.url,
      name: 'first',
      at: first.at,
    });
    await until(() => again.log().includes('"msg":"authenticated"'), 20_000, 'the first agent to restart');
    await new Promise((r) => setTimeout(r, 1500));
    again.child.kill('SIGTERM');
    await again.exited;

    const final = await task();
    expect(final.status).toBe('completed');
    expect(final.attempts).toBe(2);
    type W = {
      id: string;
      status: string;
      exitCause: string;
      costUsd: number;
      branch: string;
      commitSha: string;
    };
    const workers = final.workers as W[];
    const lost = workers.find((w) => w.id === firstWorkerId);
    const done = workers.find((w) => w.id !== firstWorkerId);
    expect(workers).toHaveLength(2);
    expect(lost?.status).toBe('lost');
    expect(lost?.exitCause).toBe('lost');
    expect(done?.status).toBe('completed');
    expect(final.workers.filter((w: { status: string }) => w.status === 'completed')).toHaveLength(1);
    expect(final.result.commitSha).toBe(done?.commitSha);
    expect(origin.readFile(done!.branch, 'done.txt')).toBe('done');

    // Cost: the account's day holds exactly what its workers report, the lost one's included.
    const day = await server.db.query<{ cost_usd: number; input_tokens: number }>(
      'SELECT cost_usd, input_tokens FROM usage_days WHERE account_id = $1',
      [account.id],
    );
    const workerCost = lost!.costUsd + done!.costUsd;
    expect(day).toHaveLength(1);
    expect(day[0]!.cost_usd).toBeCloseTo(workerCost, 9);
    expect(lost!.costUsd).toBeGreaterThan(0);
    expect(final.costUsd).toBeCloseTo(workerCost, 9);

    const ledgers = [await ledgerOf(admin, taskId, lost!.id), await ledgerOf(admin, taskId, done!.id)];
    for (const l of ledgers) {
      expect(l.lost, `events lost of ${l.workerId}`).toBe(0);
      expect(l.duplicated, `events duplicated of ${l.workerId}`).toBe(0);
      expect(l.stored).toBe(l.lastEventSeq);
    }
    expect(ledgers[1]!.last).toMatchObject({ type: 'status', data: { status: 'completed' } });

    figure('agent kill -9', {
      leaseSeconds,
      killToReclaimMs: recoveryMs,
      targetMs: 2 * leaseSeconds * 1000,
      costUsd: Number(workerCost.toFixed(6)),
      usageDayUsd: Number(day[0]!.cost_usd.toFixed(6)),
      eventsDeliveredByReplay: ledgers[0]!.stored - beforeReplay.stored,
      eventsStored: ledgers.map((l) => l.stored).join('+'),
      eventsLost: ledgers[0]!.lost + ledgers[1]!.lost,
      eventsDuplicated: ledgers[0]!.duplicated + ledgers[1]!.duplicated,
    });
    expect(recoveryMs).toBeGreaterThan(0);
    expect(recoveryMs).toBeLessThanOrEqual(2 * leaseSeconds * 1000);
  }, 240_000); // real processes, the real SDK and a lease to lose: minutes on a machine busy with other work
});

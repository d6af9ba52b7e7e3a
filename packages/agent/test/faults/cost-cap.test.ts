/**
 * Fault: an API-billed account crosses its daily cost cap in the middle of a run. The server must
 * stop the run (abort: cost_limit), keep what it cost, and refuse further claims until the reset; the
 * agent must wait for the reset instead of hammering the server or burning through the queue.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiClient, makeAccount } from '../../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../../server/test/support/server.ts';
import { type RunningAgent, startAgent } from '../../src/agent.ts';
import { memoryLog } from '../support/agent-harness.ts';
import { bash, type FakeAnthropic, startFakeAnthropic, text } from '../support/fake-anthropic.ts';
import { makeOrigin, type Origin, tempDir } from '../support/git-fixtures.ts';
import { agentConfig, agentHome, removeAgentHomes, until } from './support/agent-process.ts';
import { figure, ledgerOf } from './support/ledger.ts';

const capUsd = 0.05;
// One answer that costs more than the cap on its own: 20k input + 1k output tokens of Sonnet = $0.075.
const expensive = { input_tokens: 20_000, output_tokens: 1_000 };
const expensiveUsd = (20_000 * 3 + 1_000 * 15) / 1_000_000;

let server: TestServer;
let anthropic: FakeAnthropic;
let agent: RunningAgent | undefined;
let root: string;
let origin: Origin;

beforeEach(async () => {
  server = await startTestServer({ leaseSeconds: 30, renewSeconds: 1 });
  root = tempDir('buildd-fault-cost-');
  origin = makeOrigin(root);
  anthropic = await startFakeAnthropic({
    script: [
      bash('python3 -c "import time; time.sleep(10)"', { usage: expensive }),
      text('Never reached: the run is stopped first.'),
    ],
  });
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  removeAgentHomes();
  await anthropic?.close();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the daily cost cap crossed mid-run', () => {
  it('aborts the run, records its cost, and the agent waits for the reset instead of claiming', async () => {
    const admin = apiClient(server.url, server.adminKey);
    const account = await makeAccount(admin, server.url, { name: 'capped', maxCostPerDayUsd: capUsd });
    expect((await admin.post('/api/workspaces', { name: 'cost', repoUrl: origin.url })).status).toBe(201);
    const ids: string[] = [];
    for (const title of ['First task', 'Second task']) {
      const created = await account.api.post('/api/tasks', { workspaceId: 'cost', title, prompt: title });
      expect(created.status).toBe(201);
      ids.push(created.body.id);
    }
    const [firstId, secondId] = ids as [string, string];

    const claims: { at: number; status: number }[] = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (String(input).endsWith('/api/workers/claim'))
        claims.push({ at: Date.now(), status: response.status });
      return response;
    };
    const at = agentHome();
    const logs = memoryLog();
    const config = agentConfig(at, {
      server: server.url,
      apiKey: account.key,
      fakeUrl: anthropic.url,
      auth: 'api',
    });
    agent = startAgent(config, { fetch: recordingFetch, log: logs.log, channel: false });

    const task = async (id: string) => (await account.api.get(`/api/tasks/${id}`)).body;
    await until(
      async () => (await task(firstId)).workers[0]?.status === 'failed',
      40_000,
      'the run to be stopped',
      async () => ({
        task: await task(firstId),
        log: logs.lines.slice(-15),
        fake: anthropic.requests.length,
      }),
    );
    // Watch the agent for a while: it asks once more, learns the limit, and must then wait.
    await until(() => claims.some((c) => c.status === 429), 10_000, 'a claim after the run');
    const limitedAt = claims.find((c) => c.status === 429)!.at;
    await new Promise((r) => setTimeout(r, 5000));
    const claimsAfterRun = claims.slice(1);
    const watchedMs = Date.now() - limitedAt;

    const worker = (await task(firstId)).workers[0];
    expect(worker).toMatchObject({ status: 'failed', exitCause: 'cost_limit', authType: 'api' });
    expect(worker.costUsd).toBeCloseTo(expensiveUsd, 9);
    const stopping = logs.lines.find((l) => l.msg === 'stopping run');
    expect(stopping?.fields).toMatchObject({ cause: 'cost_limit' });
    // The run was stopped, not finished: the model's second answer was never asked for.
    expect(anthropic.requests.filter((r) => r.step?.kind === 'text')).toHaveLength(0);

    // The account's day holds exactly that cost.
    const day = await server.db.query<{ cost_usd: number }>(
      'SELECT cost_usd FROM usage_days WHERE account_id = $1',
      [account.id],
    );
    expect(day[0]?.cost_usd).toBeCloseTo(worker.costUsd, 9);

    // No further successful claim; after the first 429 the agent waits for the reset.
    expect(claims[0]?.status).toBe(200);
    for (const c of claimsAfterRun) expect(c.status).toBe(429);
    expect(claimsAfterRun.length).toBeLessThanOrEqual(2);
    expect((await task(secondId)).workers).toHaveLength(0);
    expect((await task(secondId)).status).toBe('pending');
    expect((await task(firstId)).workers).toHaveLength(1);
    const paused = logs.lines.find((l) => l.msg === 'claims paused by a limit');
    expect(paused?.fields).toMatchObject({ limit: 'cost_limit' });

    // The server says why and until when: the next UTC midnight.
    const refused = await account.api.post('/api/workers/claim', {
      maxTasks: 1,
      authType: 'api',
      agentId: 'probe',
    });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('cost_limit');
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    expect(Date.parse(refused.body.error.details.resetsAt)).toBe(midnight);
    expect(refused.body.error.details.retryAfterSeconds).toBeGreaterThan(0);

    const ledger = await ledgerOf(account.api, firstId, worker.id);
    expect(ledger.lost).toBe(0);
    expect(ledger.duplicated).toBe(0);
    expect(ledger.last).toMatchObject({
      type: 'status',
      data: { status: 'failed', exitCause: 'cost_limit' },
    });

    figure('cost cap crossed mid-run', {
      capUsd,
      workerCostUsd: worker.costUsd,
      usageDayUsd: day[0]?.cost_usd,
      claimsAfterRun: claimsAfterRun.length,
      claimStatuses: claimsAfterRun.map((c) => c.status).join(','),
      watchedAfterFirst429Ms: watchedMs,
      eventsStored: ledger.stored,
      eventsLost: ledger.lost,
      eventsDuplicated: ledger.duplicated,
    });
  }, 85_000);
});

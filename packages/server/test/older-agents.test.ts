import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient, makeAccount } from './support/api.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

/** The normal lease in these tests: short, so that a slow step outlasts it. */
const leaseSeconds = 2;

/**
 * A client that speaks exactly the shapes older buildd agents send: a claim with `maxTasks` and an
 * informational `runner` (no agentId, no authType, no capabilities), a `{status: "running", progress}` PATCH
 * once per model message and nothing in between, then `{status: "completed", result}` or
 * `{status: "error", error}`.
 */
function olderAgent(api: ApiClient, runner: string) {
  return {
    claim: (maxTasks: number) => api.post('/api/workers/claim', { maxTasks, runner }),
    modelMessage: (workerId: string, progress: number) =>
      api.patch(`/api/workers/${workerId}`, { status: 'running', progress }),
    complete: (workerId: string, result: string) =>
      api.patch(`/api/workers/${workerId}`, { status: 'completed', result }),
    fail: (workerId: string, error: string) =>
      api.patch(`/api/workers/${workerId}`, { status: 'error', error }),
  };
}

describe.each(await testEngines())('older agents on %s', (engine) => {
  // The reaper runs on its own timer every second, as it would in production.
  const t = useTestServer({
    engine,
    leaseSeconds,
    renewSeconds: 1,
    legacyLeaseSeconds: 600,
    reapIntervalSeconds: 1,
  });
  const admin = t.admin;
  beforeEach(async () => {
    await admin.post('/api/workspaces', { name: 'old' });
  });

  const newTask = async (title: string) =>
    (await admin.post('/api/tasks', { workspaceId: 'old', title, prompt: `do ${title}` })).body.id as string;

  it('complete tasks through a tool call longer than the lease, with three at once on the default seat limit', async () => {
    // Default limits: 3 concurrent workers, 2 OAuth seats. The older agent runs with --max-tasks=3.
    const account = await makeAccount(admin, t.url, { type: 'user' });
    const old = olderAgent(account.api, 'buildd-agent 0.15');
    const ids = [await newTask('one'), await newTask('two'), await newTask('three')];

    const claim = await old.claim(3);
    expect(claim.status, JSON.stringify(claim.body)).toBe(200);
    expect(claim.body.workers).toHaveLength(3);
    const workers = claim.body.workers as { id: string; taskId: string; task: { description: string } }[];
    expect(workers.map((w) => w.taskId).sort()).toEqual([...ids].sort());
    expect(workers[0]!.task.description).toMatch(/^do /);
    for (const w of workers) expect((await old.modelMessage(w.id, 10)).body.abort).toBe(false);

    // A current agent claims at the same moment and then goes as quiet as the older one.
    const current = await makeAccount(admin, t.url, { type: 'service' });
    await newTask('four');
    const modern = (
      await current.api.post('/api/workers/claim', { maxTasks: 1, agentId: 'now', authType: 'api' })
    ).body.workers[0];

    // One tool call, no PATCH at all, for twice the normal lease; the reaper runs meanwhile.
    await sleep(leaseSeconds * 2 * 1000 + 500);
    await t.reap();
    const lost = await current.api.patch(`/api/workers/${modern.id}`, { status: 'running' });
    expect(lost.status).toBe(409);
    expect(lost.body.reason).toBe('lease_lost');

    // The older agent's runs went on; its next model message and its final reports are taken.
    for (const w of workers) expect((await old.modelMessage(w.id, 90)).body.abort).toBe(false);
    const done = await old.complete(workers[0]!.id, 'Did one');
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.worker).toMatchObject({
      status: 'completed',
      exitCause: 'completed',
      summary: 'Did one',
    });
    expect(done.body.worker.authType).toBeNull();
    const task = (await admin.get(`/api/tasks/${workers[0]!.taskId}`)).body;
    expect(task).toMatchObject({ status: 'completed', attempts: 1, result: { summary: 'Did one' } });
    expect(task.workers).toHaveLength(1);

    const failed = await old.fail(workers[1]!.id, 'the SDK crashed');
    expect(failed.status, JSON.stringify(failed.body)).toBe(200);
    expect(failed.body.worker).toMatchObject({
      status: 'failed',
      exitCause: 'error',
      error: 'the SDK crashed',
    });
    expect((await old.complete(workers[2]!.id, 'Did three')).status).toBe(200);
  });

  it('older agents of one account have identities of their own: one cooling down does not hold back another', async () => {
    const account = await makeAccount(admin, t.url, { type: 'service' });
    const first = olderAgent(account.api, 'buildd-agent');
    const second = olderAgent(apiClient(t.url, account.key), 'buildd-agent');
    const id = await newTask('flaky');

    const w = (await first.claim(1)).body.workers[0];
    await first.modelMessage(w.id, 5);
    expect((await first.fail(w.id, 'network down')).status).toBe(200);
    expect((await admin.get(`/api/tasks/${id}`)).body.status).toBe('pending');
    // The retry backoff is over (on the database clock); only the failing agent's cool-down could remain.
    await t.db.query("UPDATE tasks SET not_before = now() - interval '1 second' WHERE id = $1", [id]);

    const again = await second.claim(1);
    expect(again.body.workers.map((x: { taskId: string }) => x.taskId)).toEqual([id]);
    const agentIds = (await admin.get(`/api/tasks/${id}`)).body.workers.map(
      (x: { agentId: string }) => x.agentId,
    );
    expect(new Set(agentIds).size).toBe(2);
    // Both are listed as the agent they say they are.
    const agents = (await account.api.get('/api/agents')).body.items.map((a: { id: string }) => a.id);
    expect(agents).toEqual(['legacy:buildd-agent']);
  });
});

import { describe, expect, it } from 'vitest';
import { type ApiClient, makeAccount } from './support/api.ts';
import { expectApiError } from './support/checks.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

interface ClaimedWorker {
  id: string;
  taskId: string;
  task: { id: string; attempts: number };
}

// Each rule of the claim (docs/claim.md) on its own, through the real `POST /api/workers/claim`.
describe.each(await testEngines())('claim rules on %s', (engine) => {
  const t = useTestServer({ engine, inProcess: true });
  const admin = t.admin;

  const account = (body: Record<string, unknown> = {}) =>
    makeAccount(admin, t.url, { type: 'user', ...body });

  async function workspace(name: string, body: Record<string, unknown> = {}): Promise<string> {
    const res = await admin.post('/api/workspaces', { name, ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
  }

  async function task(workspaceId: string, body: Record<string, unknown> = {}): Promise<string> {
    const res = await admin.post('/api/tasks', {
      workspaceId,
      title: 'Task',
      prompt: 'Do the thing',
      ...body,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
  }

  /** Claims with an API-billed agent by default; answers the raw response. */
  const claimRaw = (api: ApiClient, body: Record<string, unknown> = {}) =>
    api.post('/api/workers/claim', {
      maxTasks: 1,
      authType: 'api',
      agentId: 'agent-1',
      capabilities: [],
      ...body,
    });

  /** Claims and expects a 200; answers the workers and the diagnostics reason. */
  async function claim(api: ApiClient, body: Record<string, unknown> = {}) {
    const res = await claimRaw(api, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return {
      workers: res.body.workers as ClaimedWorker[],
      taskIds: (res.body.workers as ClaimedWorker[]).map((w) => w.taskId),
      reason: res.body.diagnostics?.reason as string | undefined,
    };
  }

  async function patch(api: ApiClient, workerId: string, body: Record<string, unknown>) {
    const res = await api.patch(`/api/workers/${workerId}`, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  }

  const taskStatus = async (id: string) => (await admin.get(`/api/tasks/${id}`)).body;
  const liveWorkers = async (where = 'true', params: unknown[] = []) =>
    (
      await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM workers WHERE status IN ('claimed', 'running') AND ${where}`,
        params,
      )
    )[0]!.n;

  it('a restricted workspace: no task without can_claim (no_workspaces), claimed with the grant', async () => {
    const ws = await workspace('locked', { access: 'restricted' });
    const id = await task(ws);
    const m = await account();

    const none = await claim(m.api);
    expect(none.workers).toEqual([]);
    expect(none.reason).toBe('no_workspaces');
    expect((await claim(m.api, { workspaceIds: [ws] })).reason).toBe('no_workspaces');

    // can_create lets the member see and create, not claim.
    await admin.put(`/api/workspaces/${ws}/members/${m.id}`, { canClaim: false, canCreate: true });
    expect((await m.api.get(`/api/tasks/${id}`)).status).toBe(200);
    const still = await claim(m.api);
    expect(still.workers).toEqual([]);
    expect(still.reason).toBe('no_workspaces');
    expect((await taskStatus(id)).status).toBe('pending');

    await admin.put(`/api/workspaces/${ws}/members/${m.id}`, { canClaim: true, canCreate: false });
    const got = await claim(m.api);
    expect(got.taskIds).toEqual([id]);
    expect((await taskStatus(id)).status).toBe('assigned');

    // Admins need no grant.
    const other = await task(ws);
    expect((await claim(admin)).taskIds).toEqual([other]);
  });

  it('runner preference: each account type takes only tasks for it or for any (runner_mismatch otherwise)', async () => {
    const ws = await workspace('runners');
    const user = await account({ type: 'user' });
    const service = await account({ type: 'service' });
    const action = await account({ type: 'action' });

    const forService = await task(ws, { runnerPreference: 'service', priority: 10 });
    for (const a of [user, action]) {
      const r = await claim(a.api, { maxTasks: 3 });
      expect(r.workers).toEqual([]);
      expect(r.reason).toBe('runner_mismatch');
    }
    const forUser = await task(ws, { runnerPreference: 'user', priority: 5 });
    const forAction = await task(ws, { runnerPreference: 'action', priority: 5 });
    expect((await claim(user.api, { maxTasks: 3 })).taskIds).toEqual([forUser]);
    expect((await claim(action.api, { maxTasks: 3 })).taskIds).toEqual([forAction]);
    expect((await claim(service.api, { maxTasks: 3 })).taskIds).toEqual([forService]);

    const forAny = await task(ws, { runnerPreference: 'any' });
    const forAny2 = await task(ws);
    expect((await claim(action.api)).taskIds).toEqual([forAny]);
    expect((await claim(service.api)).taskIds).toEqual([forAny2]);
  });

  it('required capabilities: capability_mismatch until the agent offers all of them', async () => {
    const ws = await workspace('caps');
    const id = await task(ws, { requiredCapabilities: ['docker', 'node-20'] });
    const a = await account({ type: 'service' });

    for (const capabilities of [[], ['docker'], ['node-20', 'gpu']]) {
      const r = await claim(a.api, { capabilities });
      expect(r.workers).toEqual([]);
      expect(r.reason).toBe('capability_mismatch');
    }
    expect((await taskStatus(id)).status).toBe('pending');
    const got = await claim(a.api, { capabilities: ['gpu', 'node-20', 'docker'] });
    expect(got.taskIds).toEqual([id]);
  });

  it('dependencies: dependencies_pending until the dependency completes', async () => {
    const ws = await workspace('deps');
    const a = await account({ type: 'service', maxConcurrentWorkers: 5 });
    const first = await task(ws, { title: 'first' });
    const second = await task(ws, { title: 'second', dependsOn: [first], priority: 100 });

    const r1 = await claim(a.api, { maxTasks: 3 });
    expect(r1.taskIds).toEqual([first]);
    const wid = r1.workers[0]!.id;
    const r2 = await claim(a.api);
    expect(r2.workers).toEqual([]);
    expect(r2.reason).toBe('dependencies_pending');

    await patch(a.api, wid, { status: 'running' });
    expect((await claim(a.api)).reason).toBe('dependencies_pending');
    await patch(a.api, wid, { status: 'completed', summary: 'done' });
    expect((await claim(a.api)).taskIds).toEqual([second]);
  });

  it('dependencies: a failed dependency keeps the dependent task waiting', async () => {
    const ws = await workspace('deps-failed');
    const a = await account({ type: 'service', maxConcurrentWorkers: 5 });
    const first = await task(ws, { maxAttempts: 1 });
    const second = await task(ws, { dependsOn: [first] });
    const r = await claim(a.api, { maxTasks: 2 });
    expect(r.taskIds).toEqual([first]);
    await patch(a.api, r.workers[0]!.id, { status: 'failed', exitCause: 'sdk', error: 'broke' });
    expect((await taskStatus(first)).status).toBe('failed');
    const after = await claim(a.api, { agentId: 'agent-2' });
    expect(after.workers).toEqual([]);
    expect(after.reason).toBe('dependencies_pending');
    expect((await taskStatus(second)).status).toBe('pending');
  });

  it('workspace filter: workspaceIds by id and by name, and the older single workspaceId', async () => {
    const x = await workspace('ws-x');
    const y = await workspace('ws-y');
    const z = await workspace('ws-z');
    const w = await workspace('ws-w');
    const inX = await task(x);
    const inY = await task(y);
    const inZ = await task(z, { priority: 10 });
    const inW = await task(w, { priority: 100 });
    const a = await account({ type: 'service', maxConcurrentWorkers: 10 });

    expect((await claim(a.api, { workspaceIds: [x], maxTasks: 5 })).taskIds).toEqual([inX]);
    expect((await claim(a.api, { workspaceIds: ['ws-y'], maxTasks: 5 })).taskIds).toEqual([inY]);
    expect((await claim(a.api, { workspaceId: z, maxTasks: 5 })).taskIds).toEqual([inZ]);
    const empty = await claim(a.api, { workspaceId: 'ws-x', maxTasks: 5 });
    expect(empty.workers).toEqual([]);
    expect(empty.reason).toBe('no_pending_tasks');
    const unknown = await claim(a.api, { workspaceIds: ['no-such-workspace'] });
    expect(unknown.workers).toEqual([]);
    expect(unknown.reason).toBe('no_workspaces');
    expect((await taskStatus(inW)).status).toBe('pending');
    expect((await claim(a.api, { maxTasks: 5 })).taskIds).toEqual([inW]);
  });

  it('priority order: higher first, then oldest first', async () => {
    const ws = await workspace('prio');
    const a = await account({ type: 'service', maxConcurrentWorkers: 20 });
    const p0old = await task(ws, { priority: 0 });
    const p5old = await task(ws, { priority: 5 });
    const p0new = await task(ws, { priority: 0 });
    const p5new = await task(ws, { priority: 5 });
    const pNeg = await task(ws, { priority: -1 });
    const pTop = await task(ws, { priority: 1000 });

    const order: string[] = [];
    for (let i = 0; i < 6; i++) order.push(...(await claim(a.api)).taskIds);
    expect(order).toEqual([pTop, p5old, p5new, p0old, p0new, pNeg]);

    // One claim of several tasks hands them out in the same order.
    const q = await workspace('prio-batch');
    const b1 = await task(q, { priority: 1 });
    const b3 = await task(q, { priority: 3 });
    const b2 = await task(q, { priority: 2 });
    const b3new = await task(q, { priority: 3 });
    expect((await claim(a.api, { maxTasks: 3 })).taskIds).toEqual([b3, b3new, b2]);
    expect((await claim(a.api, { maxTasks: 3 })).taskIds).toEqual([b1]);
  });

  it('per-workspace running limit: two accounts claiming together stay within it (workspace_full)', async () => {
    const limited = await workspace('limited', { maxRunningTasks: 2 });
    const open = await workspace('elsewhere');
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push(await task(limited, { priority: 10 }));
    const elsewhere = await task(open);
    const accounts = await Promise.all(
      [1, 2, 3, 4].map(() => account({ type: 'service', maxConcurrentWorkers: 10 })),
    );

    const results = await Promise.all(
      accounts.map((a) => claim(a.api, { maxTasks: 3, workspaceIds: [limited] })),
    );
    const taken = results.flatMap((r) => r.taskIds);
    expect(taken).toHaveLength(2);
    expect(new Set(taken).size).toBe(2);
    expect(await liveWorkers('workspace_id = $1', [limited])).toBe(2);

    const full = await claim(accounts[3]!.api, { workspaceIds: [limited] });
    expect(full.workers).toEqual([]);
    expect(full.reason).toBe('workspace_full');
    // The full workspace does not block tasks elsewhere.
    expect((await claim(accounts[3]!.api, { maxTasks: 3 })).taskIds).toEqual([elsewhere]);

    // When one run ends, one more may start.
    const holder = results.findIndex((r) => r.workers.length > 0);
    await patch(accounts[holder]!.api, results[holder]!.workers[0]!.id, { status: 'completed' });
    const next = await Promise.all(
      accounts.map((a) => claim(a.api, { maxTasks: 3, workspaceIds: ['limited'] })),
    );
    expect(next.flatMap((r) => r.taskIds)).toHaveLength(1);
    expect(await liveWorkers('workspace_id = $1', [limited])).toBe(2);
  });

  it('per-workspace running limit: a workspace at its limit does not starve the agent of tasks elsewhere', async () => {
    const limited = await workspace('busy', { maxRunningTasks: 1 });
    const open = await workspace('quiet');
    for (let i = 0; i < 12; i++) await task(limited, { priority: 50 });
    const low = await task(open, { priority: 0 });
    const a = await account({ type: 'service', maxConcurrentWorkers: 10 });
    const r = await claim(a.api, { maxTasks: 2 });
    expect(r.workers).toHaveLength(2);
    expect(r.taskIds).toContain(low);
  });

  it('OAuth session limit: 429 session_limit beyond maxConcurrentSessions, while api claims go on to maxConcurrentWorkers', async () => {
    const ws = await workspace('seats');
    for (let i = 0; i < 6; i++) await task(ws);
    const a = await account({ type: 'user', maxConcurrentSessions: 1, maxConcurrentWorkers: 3 });

    const oauth = await claim(a.api, { authType: 'oauth', maxTasks: 5 });
    expect(oauth.workers).toHaveLength(1);
    const again = await claimRaw(a.api, { authType: 'oauth', maxTasks: 5 });
    expectApiError(again, 429, 'session_limit');
    expect(again.body.error.details).toMatchObject({ limit: 1, current: 1 });
    expect(again.body.error.details.retryAfterSeconds).toEqual(expect.any(Number));
    expect(Number.isInteger(again.body.error.details.retryAfterSeconds)).toBe(true);
    expect(again.body.error.details.retryAfterSeconds).toBeGreaterThanOrEqual(0);
    // Older agents send no authType: they take no OAuth seat, only a place under maxConcurrentWorkers.
    const legacy = await claim(a.api, { maxTasks: 1, authType: undefined, agentId: undefined });
    expect(legacy.workers).toHaveLength(1);

    const api = await claim(a.api, { authType: 'api', maxTasks: 5 });
    expect(api.workers).toHaveLength(1);
    const over = await claimRaw(a.api, { authType: 'api', maxTasks: 5 });
    expectApiError(over, 429, 'concurrency_limit');
    expect(over.body.error.details).toMatchObject({ limit: 3, current: 3 });
    expect(await liveWorkers('account_id = $1', [a.id])).toBe(3);

    // The seat comes back when the OAuth run ends.
    await patch(a.api, oauth.workers[0]!.id, { status: 'completed' });
    expect((await claim(a.api, { authType: 'oauth' })).workers).toHaveLength(1);
  });

  it('concurrency limit: 429 concurrency_limit at maxConcurrentWorkers, also for concurrent claims', async () => {
    const ws = await workspace('conc');
    for (let i = 0; i < 8; i++) await task(ws);
    const a = await account({ type: 'service', maxConcurrentWorkers: 2 });

    const answers = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => claimRaw(a.api, { maxTasks: 1, agentId: `agent-${i}` })),
    );
    const ok = answers.filter((r) => r.status === 200);
    const taken = ok.flatMap((r) => r.body.workers);
    expect(taken).toHaveLength(2);
    for (const r of answers.filter((x) => x.status !== 200)) expectApiError(r, 429, 'concurrency_limit');
    expect(await liveWorkers('account_id = $1', [a.id])).toBe(2);

    const over = await claimRaw(a.api, { maxTasks: 5 });
    expectApiError(over, 429, 'concurrency_limit');
    expect(over.body.error.details).toMatchObject({ limit: 2, current: 2 });
    expect(over.body.error.details.retryAfterSeconds).toBeGreaterThanOrEqual(0);
    expect((await admin.get(`/api/tasks?workspaceId=${ws}&status=pending`)).body.items).toHaveLength(6);

    await patch(a.api, taken[0].id, { status: 'failed', exitCause: 'max_turns' });
    expect((await claim(a.api, { maxTasks: 5 })).workers).toHaveLength(1);
  });

  it('daily cost cap: a crossing PATCH gets abort cost_limit; api claims answer 429 until the next UTC midnight', async () => {
    const ws = await workspace('costly');
    for (let i = 0; i < 4; i++) await task(ws);
    const a = await account({ type: 'service', maxConcurrentWorkers: 5, maxCostPerDayUsd: 1 });

    const w1 = (await claim(a.api)).workers[0]!;
    expect(await patch(a.api, w1.id, { status: 'running', costUsd: 0.25 })).toMatchObject({ abort: false });
    const w2 = (await claim(a.api)).workers[0]!;
    expect(await patch(a.api, w2.id, { status: 'running', costUsd: 0.5 })).toMatchObject({ abort: false });
    // 0.25 + 0.5 + (0.5 - 0.25) = 1.0: this PATCH reaches the cap.
    const crossing = await patch(a.api, w1.id, { costUsd: 0.5 });
    expect(crossing).toMatchObject({ abort: true, reason: 'cost_limit' });

    const refused = await claimRaw(a.api);
    expectApiError(refused, 429, 'cost_limit');
    const details = refused.body.error.details;
    expect(details.limit).toBe(1);
    expect(details.current).toBeCloseTo(1);
    expect(details.retryAfterSeconds).toBeGreaterThan(0);
    expect(details.retryAfterSeconds).toBeLessThanOrEqual(86_400);
    const now = new Date();
    const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
    expect(details.resetsAt).toBe(midnight.toISOString());
    expect(Math.abs(now.getTime() + details.retryAfterSeconds * 1000 - midnight.getTime())).toBeLessThan(
      5000,
    );
    expect(
      (await t.db.query<{ cost_usd: number }>('SELECT cost_usd FROM usage_days'))[0]?.cost_usd,
    ).toBeCloseTo(1);

    // The cap is for API billing: an OAuth (seat) claim still gets work.
    expect((await claim(a.api, { authType: 'oauth' })).workers).toHaveLength(1);

    // The aborted run reports its end; the task goes back to the queue and nothing more is billed.
    await patch(a.api, w1.id, { status: 'failed', exitCause: 'cost_limit', costUsd: 0.5 });
    expect((await taskStatus(w1.taskId)).status).toBe('pending');
    expectApiError(await claimRaw(a.api), 429, 'cost_limit');
  });

  it("a cancelled task's worker gets abort cancelled on its next PATCH, and its final report is recorded", async () => {
    const ws = await workspace('cancel');
    const id = await task(ws);
    const a = await account({ type: 'service' });
    const w = (await claim(a.api)).workers[0]!;
    await patch(a.api, w.id, { status: 'running', costUsd: 0.1 });

    const cancelled = await admin.post(`/api/tasks/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');

    const next = await patch(a.api, w.id, { currentAction: 'Editing', costUsd: 0.2 });
    expect(next).toMatchObject({ abort: true, reason: 'cancelled' });
    const final = await patch(a.api, w.id, {
      status: 'cancelled',
      exitCause: 'cancelled',
      costUsd: 0.3,
      turns: 4,
    });
    expect(final.abort).toBe(false);

    const worker = (await admin.get(`/api/workers/${w.id}`)).body;
    expect(worker).toMatchObject({ status: 'cancelled', costUsd: 0.3, turns: 4, exitCause: 'cancelled' });
    expect(worker.finishedAt).toEqual(expect.any(String));
    const after = await taskStatus(id);
    expect(after.status).toBe('cancelled');
    expect(after.costUsd).toBeCloseTo(0.3);
    expect(
      (await t.db.query<{ cost_usd: number }>('SELECT cost_usd FROM usage_days'))[0]?.cost_usd,
    ).toBeCloseTo(0.3);

    const late = await a.api.patch(`/api/workers/${w.id}`, { costUsd: 0.4 });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ abort: true, reason: 'cancelled' });
    const again = await claim(a.api);
    expect(again.workers).toEqual([]);
  });

  it('a PATCH to a finished or lost worker answers 409 with abort true', async () => {
    const ws = await workspace('finished');
    const a = await account({ type: 'service' });
    const id = await task(ws, { maxAttempts: 2 });
    const w = (await claim(a.api)).workers[0]!;
    await patch(a.api, w.id, { status: 'completed', summary: 'ok', costUsd: 0.1 });
    for (const body of [{ costUsd: 0.2 }, { status: 'running' }, { status: 'failed', error: 'late' }, {}]) {
      const res = await a.api.patch(`/api/workers/${w.id}`, body);
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ abort: true, reason: 'finished', error: { code: 'worker_not_live' } });
    }
    const done = await taskStatus(id);
    expect(done.status).toBe('completed');
    expect(done.error).toBeNull();
    expect(done.costUsd).toBeCloseTo(0.1);

    // A worker whose lease ran out is lost: its agent is told to stop, the task goes back to the queue.
    const id2 = await task(ws, { maxAttempts: 2 });
    const w2 = (await claim(a.api)).workers[0]!;
    expect(w2.taskId).toBe(id2);
    await t.db.query(`UPDATE workers SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [
      w2.id,
    ]);
    expect((await t.reap()).lost).toBe(1);
    const lost = await a.api.patch(`/api/workers/${w2.id}`, { status: 'completed' });
    expect(lost.status).toBe(409);
    expect(lost.body).toMatchObject({ abort: true, reason: 'lease_lost' });
    expect((await taskStatus(id2)).status).toBe('pending');
  });

  it('a retryable failure puts the task back; the same agent cools down, another takes it after the backoff', async () => {
    const ws = await workspace('retry');
    const id = await task(ws, { maxAttempts: 3 });
    const a = await account({ type: 'service', maxConcurrentWorkers: 5 });
    const skipBackoff = () => t.db.query('UPDATE tasks SET not_before = now() WHERE id = $1', [id]);

    const w1 = (await claim(a.api, { agentId: 'agent-1' })).workers[0]!;
    expect(w1.task.attempts).toBe(1);
    await patch(a.api, w1.id, { status: 'failed', exitCause: 'sdk', error: 'SDK crashed' });
    const back = await taskStatus(id);
    expect(back).toMatchObject({ status: 'pending', attempts: 1, error: 'SDK crashed', exitCause: 'sdk' });

    // Right after the failure: backoff for everyone.
    expect((await claim(a.api, { agentId: 'agent-2' })).workers).toEqual([]);
    expect((await claim(a.api, { agentId: 'agent-1' })).workers).toEqual([]);
    // After the backoff: still not the agent that just failed it, but another one.
    await skipBackoff();
    expect((await claim(a.api, { agentId: 'agent-1' })).workers).toEqual([]);
    const w2 = (await claim(a.api, { agentId: 'agent-2' })).workers[0]!;
    expect(w2.taskId).toBe(id);
    expect(w2.task.attempts).toBe(2);

    // The cool-down follows the last agent that failed: now agent-1 may take it again.
    await patch(a.api, w2.id, { status: 'error', error: 'older agents say error' });
    expect((await taskStatus(id)).status).toBe('pending');
    await skipBackoff();
    expect((await claim(a.api, { agentId: 'agent-2' })).workers).toEqual([]);
    const w3 = (await claim(a.api, { agentId: 'agent-1' })).workers[0]!;
    expect(w3.task.attempts).toBe(3);

    // The last attempt failing fails the task for good.
    await patch(a.api, w3.id, { status: 'failed', exitCause: 'sdk' });
    await skipBackoff();
    const end = await taskStatus(id);
    expect(end).toMatchObject({ status: 'failed', attempts: 3 });
    expect(end.finishedAt).toEqual(expect.any(String));
    expect((await claim(a.api, { agentId: 'agent-9' })).workers).toEqual([]);
  });

  it('a failure that retrying cannot fix (max_turns) fails the task at once', async () => {
    const ws = await workspace('no-retry');
    const id = await task(ws, { maxAttempts: 3 });
    const a = await account({ type: 'service' });
    const w = (await claim(a.api)).workers[0]!;
    await patch(a.api, w.id, { status: 'failed', exitCause: 'max_turns', error: 'Ran out of turns' });
    expect(await taskStatus(id)).toMatchObject({ status: 'failed', attempts: 1, exitCause: 'max_turns' });
  });

  it('excludeTaskIds is honoured', async () => {
    const ws = await workspace('exclude');
    const t1 = await task(ws, { priority: 10 });
    const t2 = await task(ws, { priority: 5 });
    const t3 = await task(ws, { priority: 0 });
    const a = await account({ type: 'service', maxConcurrentWorkers: 5 });
    expect((await claim(a.api, { excludeTaskIds: [t1] })).taskIds).toEqual([t2]);
    const none = await claim(a.api, { excludeTaskIds: [t1, t3], maxTasks: 3 });
    expect(none.workers).toEqual([]);
    expect(none.reason).toBe('no_pending_tasks');
    expect((await claim(a.api, { maxTasks: 3 })).taskIds).toEqual([t1, t3]);
  });

  it('a task with maxAttempts 1 that fails ends failed', async () => {
    const ws = await workspace('once');
    const id = await task(ws, { maxAttempts: 1 });
    const a = await account({ type: 'service' });
    const w = (await claim(a.api)).workers[0]!;
    await patch(a.api, w.id, { status: 'failed', exitCause: 'sdk', error: 'boom' });
    const after = await taskStatus(id);
    expect(after).toMatchObject({ status: 'failed', attempts: 1, error: 'boom' });
    expect(after.finishedAt).toEqual(expect.any(String));
    await t.db.query('UPDATE tasks SET not_before = NULL, cooldown_until = NULL WHERE id = $1', [id]);
    expect((await claim(a.api, { agentId: 'someone-else' })).workers).toEqual([]);
  });

  it('a task is never handed to two live workers, however many claim at once', async () => {
    const ws = await workspace('race');
    const ids = new Set<string>();
    for (let i = 0; i < 10; i++) ids.add(await task(ws));
    const accounts = await Promise.all(
      [1, 2, 3, 4, 5].map(() => account({ type: 'service', maxConcurrentWorkers: 4 })),
    );
    const results = await Promise.all(
      accounts.flatMap((a, i) => [
        claim(a.api, { maxTasks: 2, agentId: `x${i}` }),
        claim(a.api, { maxTasks: 2, agentId: `y${i}` }),
      ]),
    );
    const taken = results.flatMap((r) => r.taskIds);
    expect(taken.sort()).toEqual([...ids].sort());
    expect(await liveWorkers()).toBe(10);
  });

  it('waitSeconds: a long poll returns as soon as a task becomes claimable', async () => {
    const ws = await workspace('poll');
    const a = await account({ type: 'service' });
    const started = Date.now();
    const pending = claim(a.api, { waitSeconds: 20 });
    await new Promise((r) => setTimeout(r, 300));
    const id = await task(ws);
    const r = await pending;
    expect(r.taskIds).toEqual([id]);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

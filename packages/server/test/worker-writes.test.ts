/**
 * Writes to a worker come from its holder agent only, and events are bounded per worker: a cap on count
 * and bytes, a rate, and no events long after the worker ended. Each refusal is a clear 4xx in the JSON
 * error shape, and a batch is stored whole or not at all.
 */
import { describe, expect, it } from 'vitest';
import { makeAccount } from './support/api.ts';
import { dbSnapshot, expectApiError } from './support/checks.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

const at = new Date().toISOString();
const events = (from: number, n: number, text = 'x') =>
  Array.from({ length: n }, (_, i) => ({ seq: from + i, type: 'assistant_text', at, data: { text } }));

describe.each(await testEngines())('writes to a worker on %s', (engine) => {
  const t = useTestServer({
    engine,
    inProcess: true,
    eventLimits: { maxEvents: 50, maxBytes: 4000, burst: 100, perSecond: 1, lateSeconds: 300 },
  });

  async function claimed(agentId?: string) {
    await t.admin.post('/api/workspaces', { name: 'w' });
    const task = await t.admin.post('/api/tasks', { workspaceId: 'w', title: 't', prompt: 'p' });
    const svc = await makeAccount(t.admin, t.url, { type: 'service' });
    const claim = await svc.api.post('/api/workers/claim', {
      maxTasks: 1,
      authType: 'api',
      ...(agentId ? { agentId } : {}),
    });
    const id: string = claim.body.workers[0].id;
    const as = (agent?: string) => ({
      patch: (body: unknown) =>
        svc.api.call('PATCH', `/api/workers/${id}`, body, agent ? { 'x-buildd-agent-id': agent } : {}),
      events: (list: unknown[]) =>
        svc.api.call(
          'POST',
          `/api/workers/${id}/events`,
          { events: list },
          agent ? { 'x-buildd-agent-id': agent } : {},
        ),
    });
    return { id, task: task.body.id as string, as };
  }

  it('another agent of the same account may not PATCH the worker or add its events', async () => {
    const w = await claimed('agent-1');
    const before = await dbSnapshot(t.db);
    const other = w.as('agent-2');
    const patch = await other.patch({ status: 'completed', summary: 'not mine' });
    expectApiError(patch, 403, 'forbidden');
    expect(patch.body.error.message).toContain('another agent');
    expectApiError(await other.events(events(0, 1)), 403, 'forbidden');
    expect(await dbSnapshot(t.db)).toBe(before);
    expect((await w.as('agent-1').patch({ status: 'running' })).status).toBe(200);
    expect((await w.as('agent-1').events(events(0, 1))).body).toEqual({ stored: 1, lastSeq: 0 });
  });

  it("an older agent's worker (no agentId anywhere) is still written by its account", async () => {
    const w = await claimed();
    expect((await w.as().patch({ status: 'running', progress: 10 })).status).toBe(200);
    expect((await w.as().events(events(0, 2))).body).toEqual({ stored: 2, lastSeq: 1 });
    expectApiError(await w.as('someone').patch({ status: 'running' }), 403, 'forbidden');
  });

  it('caps events per worker by count and bytes: a batch past the cap is refused whole, replays are free', async () => {
    const w = await claimed('a');
    const agent = w.as('a');
    expect((await agent.events(events(0, 40))).body.stored).toBe(40);
    // Replayed events are not counted again.
    expect((await agent.events(events(0, 5))).body.stored).toBe(0);
    const over = await agent.events(events(40, 11));
    expectApiError(over, 413, 'payload_too_large');
    expect(over.body.error.details).toMatchObject({ limit: 50, current: 40 });
    // Nothing of the refused batch was kept; up to the cap still is.
    expect((await agent.events(events(40, 10))).body).toEqual({ stored: 10, lastSeq: 49 });
    const stored = await t.admin.get(`/api/tasks/${w.task}/events?limit=500`);
    expect(stored.body.items).toHaveLength(50);

    const big = await claimed('b');
    const bytes = await big.as('b').events(events(0, 3, 'y'.repeat(1500)));
    expectApiError(bytes, 413, 'payload_too_large');
    expect(bytes.body.error.message).toContain('4000');
    expect((await big.as('b').events(events(0, 2, 'y'.repeat(1500)))).body.stored).toBe(2);
  });

  it('limits the rate per worker with a 429 that says when to come back', async () => {
    const w = await claimed('a');
    expect((await w.as('a').events(events(0, 45))).body.stored).toBe(45);
    const fast = await w.as('a').events(events(45, 60));
    expectApiError(fast, 429, 'rate_limited');
    expect(fast.body.error.details.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    const n = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM worker_events');
    expect(n[0]!.n).toBe(45);
  });

  it('refuses events for a worker that ended more than a few minutes ago, takes late ones before', async () => {
    const w = await claimed('a');
    await w.as('a').patch({ status: 'completed', summary: 'done' });
    expect((await w.as('a').events(events(0, 1))).body.stored).toBe(1);
    await t.db.query(`UPDATE workers SET finished_at = now() - interval '10 minutes' WHERE id = $1`, [w.id]);
    const late = await w.as('a').events(events(1, 1));
    expectApiError(late, 409, 'worker_not_live');
    expect(late.body.error.message).toContain('ended more than 300 s ago');
  });

  it('keeps at most 100 agents per account and drops those gone for a week', async () => {
    const svc = await makeAccount(t.admin, t.url, { type: 'service' });
    await t.db.query(
      `INSERT INTO agents (account_id, id, name, last_seen_at) VALUES ($1, 'gone', 'gone', now() - interval '8 days')`,
      [svc.id],
    );
    for (let i = 0; i < 110; i++) {
      const claim = await svc.api.post('/api/workers/claim', { maxTasks: 1, agentId: `agent-${i}` });
      expect(claim.status).toBe(200);
    }
    const rows = await t.db.query<{ id: string }>('SELECT id FROM agents WHERE account_id = $1', [svc.id]);
    expect(rows.length).toBe(100);
    const ids = new Set(rows.map((r) => r.id));
    expect(ids.has('gone')).toBe(false);
    expect(ids.has('agent-109')).toBe(true);
    const listed = await svc.api.get('/api/agents');
    expect(listed.body.items).toHaveLength(100);
  });
});

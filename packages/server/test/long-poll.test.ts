import { describe, expect, it } from 'vitest';
import { makeAccount } from './support/api.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

// A long poll sleeps until a hint picks it; nothing is written when a task's backoff ends, so the reaper's
// round is what hints it. Without that hint this claim would wait out its whole `waitSeconds` empty-handed.
describe.each(await testEngines())('the claim long poll on %s', (engine) => {
  const t = useTestServer({ engine, reapIntervalSeconds: 1 });

  it('gets a task whose backoff ends while it waits', async () => {
    const ws = await t.admin.post('/api/workspaces', { name: 'backoff' });
    expect(ws.status).toBe(201);
    const created = await t.admin.post('/api/tasks', { workspaceId: ws.body.id, title: 'T', prompt: 'P' });
    const a = await makeAccount(t.admin, t.url, { type: 'service', maxConcurrentWorkers: 5 });
    const claim = (agentId: string, waitSeconds = 0) =>
      a.api.post('/api/workers/claim', {
        maxTasks: 1,
        authType: 'api',
        agentId,
        capabilities: [],
        waitSeconds,
      });

    const first = await claim('agent-1');
    const workerId = first.body.workers[0].id as string;
    const failed = await a.api.patch(`/api/workers/${workerId}`, { status: 'failed', exitCause: 'sdk' });
    expect(failed.status).toBe(200);
    // The task is back, but not claimable for a moment.
    await t.db.query(`UPDATE tasks SET not_before = now() + interval '2 seconds' WHERE id = $1`, [
      created.body.id,
    ]);
    expect((await claim('agent-2')).body.workers).toEqual([]);

    const t0 = Date.now();
    const waited = await claim('agent-2', 25);
    expect(waited.status).toBe(200);
    expect(waited.body.workers.map((w: { taskId: string }) => w.taskId)).toEqual([created.body.id]);
    // Woken, not answered at the end of its wait (which would also find the task): the backoff ended about
    // 2 s in, the reaper looks every second; 20 s leaves a busy machine all the room it needs.
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});

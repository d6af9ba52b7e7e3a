import pg from 'pg';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { reapExpiredWorkers, reaperLockKey } from '../src/queue/reap.ts';
import { startServer } from '../src/server.ts';
import { apiClient, makeAccount } from './support/api.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

describe.each(await testEngines())('leases and the reaper on %s', (engine) => {
  const t = useTestServer({ engine, leaseSeconds: 2, renewSeconds: 1 });
  const admin = t.admin;
  beforeEach(async () => {
    await admin.post('/api/workspaces', { name: 'lease' });
  });

  /** Makes every live lease expire now, on the database clock (no sleeping in tests). */
  const expireLeases = () =>
    t.db.query(
      `UPDATE workers SET lease_expires_at = now() - interval '1 second' WHERE status IN ('claimed', 'running')`,
    );

  it('a renewed lease survives; an expired one turns the worker lost and the task pending again', async () => {
    const agent = await makeAccount(admin, t.url, { type: 'service' });
    const task = await admin.post('/api/tasks', {
      workspaceId: 'lease',
      title: 't',
      prompt: 'p',
      maxAttempts: 2,
    });
    const first = (await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a' }))
      .body.workers[0];
    await agent.api.patch(`/api/workers/${first.id}`, { status: 'running', costUsd: 0.1 });

    expect(await t.reap()).toEqual({ lost: 0, requeued: 0, failed: 0 });
    const renewed = await agent.api.patch(`/api/workers/${first.id}`, { turns: 1 });
    expect(Date.parse(renewed.body.worker.leaseExpiresAt)).toBeGreaterThan(Date.now());

    await expireLeases();
    expect(await t.reap()).toEqual({ lost: 1, requeued: 1, failed: 0 });
    const after = await admin.get(`/api/tasks/${task.body.id}`);
    expect(after.body.status).toBe('pending');
    expect(after.body.workers[0].status).toBe('lost');
    expect(after.body.workers[0].exitCause).toBe('lost');

    // The agent that comes back is told to stop, and its late figures change nothing.
    const late = await agent.api.patch(`/api/workers/${first.id}`, { costUsd: 5 });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ abort: true, reason: 'lease_lost' });

    // Second and last attempt: lost again → failed with exit cause lost.
    const second = (
      await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'b' })
    ).body.workers[0];
    expect(second.taskId).toBe(task.body.id);
    await expireLeases();
    expect(await t.reap()).toEqual({ lost: 1, requeued: 0, failed: 1 });
    const final = await admin.get(`/api/tasks/${task.body.id}`);
    expect(final.body.status).toBe('failed');
    expect(final.body.exitCause).toBe('lost');
    expect(final.body.attempts).toBe(2);
    const usage = await t.db.query<{ cost_usd: number }>('SELECT cost_usd FROM usage_days');
    expect(usage[0]?.cost_usd).toBeCloseTo(0.1);
  });

  it('a cancelled task whose agent vanished stays cancelled when its worker is reaped', async () => {
    const agent = await makeAccount(admin, t.url, { type: 'service' });
    const task = await admin.post('/api/tasks', { workspaceId: 'lease', title: 't', prompt: 'p' });
    await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a' });
    await admin.post(`/api/tasks/${task.body.id}/cancel`);
    await expireLeases();
    expect((await t.reap()).lost).toBe(1);
    expect((await admin.get(`/api/tasks/${task.body.id}`)).body.status).toBe('cancelled');
  });

  it('a restarted server gives live workers one more lease before reaping them', async () => {
    const agent = await makeAccount(admin, t.url, { type: 'service' });
    await admin.post('/api/tasks', { workspaceId: 'lease', title: 't', prompt: 'p' });
    const w = (await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a' }))
      .body.workers[0];
    await expireLeases();
    // The server goes away and comes back on the same database while the lease is already past.
    await t.server.close();
    const again = await startServer({
      db: t.db,
      log: pino({ level: 'silent' }),
      host: '127.0.0.1',
      port: 0,
      leaseSeconds: 2,
      renewSeconds: 1,
      reapIntervalSeconds: 3600,
    });
    try {
      expect(await again.reap()).toEqual({ lost: 0, requeued: 0, failed: 0 });
      const back = await apiClient(again.url, agent.key).patch(`/api/workers/${w.id}`, { turns: 1 });
      expect(back.status).toBe(200);
      expect(back.body.abort).toBe(false);
    } finally {
      await again.close();
    }
  });

  it('a replica skips its round while another holds the reaper lock', async () => {
    const agent = await makeAccount(admin, t.url, { type: 'service', maxConcurrentWorkers: 10 });
    for (let i = 0; i < 5; i++)
      await admin.post('/api/tasks', { workspaceId: 'lease', title: `t${i}`, prompt: 'p' });
    await agent.api.post('/api/workers/claim', { maxTasks: 5, authType: 'api', agentId: 'a' });
    await expireLeases();
    const other = new pg.Client({ connectionString: t.dbUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock($1)', [reaperLockKey]);
      expect(await reapExpiredWorkers(t.db)).toEqual({ lost: 0, requeued: 0, failed: 0 });
      await other.query('COMMIT');
      expect((await reapExpiredWorkers(t.db)).lost).toBe(5);
    } finally {
      await other.end();
    }
  });
});

/**
 * Fault: PostgreSQL drops every connection of the server (pg_terminate_backend, as a failover or an
 * operator would) while requests are in flight. Requests may fail for a moment, but only as a clean
 * 503 `unavailable` JSON error — never a 500, never a crash — and the server recovers by itself:
 * its pool reconnects, and so does its LISTEN connection (a long-polling claim wakes at once again).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { apiClient, makeAccount } from '../../../server/test/support/api.ts';
import { hasPostgres } from '../../../server/test/support/engines.ts';
import { until } from './support/agent-process.ts';
import { figure } from './support/ledger.ts';
import { closeAllServers, startServerProcess } from './support/server-process.ts';

afterEach(async () => {
  await closeAllServers();
});

type Outcome = { status: number; code?: string } | { status: 'network'; error: string };

describe('the PostgreSQL connections dropped under the server', () => {
  it('answers 503 unavailable for a moment, never 500, and recovers without a restart', async (ctx) => {
    if (!(await hasPostgres())) ctx.skip();
    const server = await startServerProcess('postgres', ['--lease-seconds=30', '--renew-seconds=5']);
    const child = server.current()!.child;
    const admin = apiClient(server.url, server.adminKey);
    expect((await admin.post('/api/workspaces', { name: 'storm' })).status).toBe(201);
    // Limits high enough that the workload never meets a 429: every answer is 2xx or the fault's.
    const user = await makeAccount(admin, server.url, { name: 'storm', maxConcurrentWorkers: 10_000 });

    const outcomes: Outcome[] = [];
    const call = async (method: string, path: string, body?: unknown) => {
      try {
        const res = await fetch(`${server.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${user.key}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(20_000),
        });
        const json = (await res.json().catch(() => undefined)) as any;
        outcomes.push({ status: res.status, code: json?.error?.code });
        return { status: res.status, body: json };
      } catch (error) {
        outcomes.push({ status: 'network', error: String(error) });
        return { status: 0, body: undefined };
      }
    };
    // What agents and users do all day: create, list, claim, report progress and events, complete.
    const workload = async (n: number, stop: AbortSignal) => {
      for (let i = 0; !stop.aborted; i++) {
        await call('POST', '/api/tasks', { workspaceId: 'storm', title: `t${n}-${i}`, prompt: 'x' });
        await call('GET', '/api/tasks?workspaceId=storm&limit=20');
        const claim = await call('POST', '/api/workers/claim', {
          maxTasks: 1,
          agentId: `storm-${n}`,
          authType: 'api',
          workspaceIds: ['storm'],
        });
        const worker = claim.body?.workers?.[0];
        if (!worker) continue;
        await call('POST', `/api/workers/${worker.id}/events`, {
          events: [{ seq: 1, type: 'log', at: new Date().toISOString(), data: { i } }],
        });
        await call('PATCH', `/api/workers/${worker.id}`, { status: 'completed', costUsd: 0.001 });
      }
    };

    const stop = new AbortController();
    const loops = Array.from({ length: 8 }, (_, n) => workload(n, stop.signal));
    await new Promise((r) => setTimeout(r, 500));
    let terminated = 0;
    const stormUntil = Date.now() + 3000;
    while (Date.now() < stormUntil) {
      terminated += await server.database!.terminateConnections();
      await new Promise((r) => setTimeout(r, 25));
    }
    const stormEnded = Date.now();
    // The first request after the storm may still meet a dead pooled connection; then it recovers.
    let recoveredAfterMs = -1;
    await until(
      async () => {
        const ok = (await user.api.get('/api/tasks?workspaceId=storm&limit=1')).status === 200;
        if (ok) recoveredAfterMs = Date.now() - stormEnded;
        return ok;
      },
      5_000,
      'a normal request to succeed again',
    );
    stop.abort();
    await Promise.all(loops);

    // Then everything works as before, without a restart.
    expect(child.exitCode).toBeNull();
    expect(child.signalCode).toBeNull();
    for (let i = 0; i < 10; i++)
      expect((await user.api.get('/api/tasks?workspaceId=storm&limit=5')).status).toBe(200);
    // The LISTEN connection is back: a long poll wakes as soon as a task is created (the poll's own
    // safety net would wake it only after 3 s). First finish whatever the storm left claimable.
    const claim = (waitSeconds: number) =>
      user.api.post('/api/workers/claim', {
        maxTasks: waitSeconds ? 1 : 100,
        agentId: 'after-storm',
        workspaceIds: ['storm'],
        authType: 'api',
        waitSeconds,
      });
    for (let left = await claim(0); left.body.workers.length > 0; left = await claim(0)) {
      for (const w of left.body.workers)
        await user.api.patch(`/api/workers/${w.id}`, { status: 'completed' });
    }
    const waiting = claim(10);
    await new Promise((r) => setTimeout(r, 500));
    const createdAt = Date.now();
    await user.api.post('/api/tasks', { workspaceId: 'storm', title: 'wake', prompt: 'x' });
    const woken = await waiting;
    const wakeMs = Date.now() - createdAt;
    expect(woken.status).toBe(200);
    expect(woken.body.workers).toHaveLength(1);

    const count = (pred: (o: Outcome) => boolean) => outcomes.filter(pred).length;
    const unavailable = count((o) => o.status === 503);
    const bad = outcomes.filter(
      (o) =>
        o.status === 'network' ||
        (o.status !== 503 && (o.status < 200 || o.status >= 300)) ||
        (o.status === 503 && o.code !== 'unavailable'),
    );
    figure('PostgreSQL connections terminated', {
      backendsTerminated: terminated,
      requests: outcomes.length,
      answered503: unavailable,
      answered500: count((o) => o.status === 500),
      networkErrors: count((o) => o.status === 'network'),
      recoveredAfterMs,
      longPollWakeMs: wakeMs,
    });
    expect(bad, JSON.stringify(bad.slice(0, 5))).toEqual([]);
    expect(terminated).toBeGreaterThan(0);
    // The fault really met requests in flight, and they failed the clean way.
    expect(unavailable).toBeGreaterThan(0);
    expect(wakeMs).toBeLessThan(2500);
  });
});

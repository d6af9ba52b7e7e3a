import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb } from '../src/db/index.ts';
import { startServer } from '../src/server.ts';
import { type ApiClient, apiClient, makeAccount } from './support/api.ts';
import { testEngines } from './support/engines.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/** One sample of a Prometheus text exposition, e.g. `buildd_tasks{status="pending"}`; undefined if absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.each(await testEngines())('readiness and metrics on %s', (engine) => {
  let t: TestServer;
  let admin: ApiClient;
  beforeEach(async () => {
    t = await startTestServer({ engine });
    admin = apiClient(t.url, t.adminKey);
  });
  afterEach(async () => {
    await t.close();
  });

  it('is ready with a current schema, and answers 503 when migrations are behind or ahead', async () => {
    const ready = await apiClient(t.url).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.ready).toBe(true);
    const expected = ready.body.migrations.expected as number;
    expect(ready.body.migrations.current).toBe(expected);

    await t.db.query(`INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')`, [
      expected + 1,
    ]);
    const ahead = await apiClient(t.url).get('/readyz');
    expect(ahead.status).toBe(503);
    expect(ahead.body.migrations).toMatchObject({ ok: false, current: expected + 1, expected });
    expect(ahead.body.migrations.error).toMatch(/newer buildd-server/);

    const [newest] = await t.db.query<{ name: string }>(
      'SELECT name FROM schema_migrations WHERE version = $1',
      [expected],
    );
    await t.db.query('DELETE FROM schema_migrations WHERE version >= $1', [expected]);
    const behind = await apiClient(t.url).get('/readyz');
    expect(behind.status).toBe(503);
    expect(behind.body.migrations.error).toMatch(/pending/);
    // Put the row back: the database is handed to the next test.
    await t.db.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
      expected,
      newest!.name,
    ]);
    expect((await apiClient(t.url).get('/readyz')).status).toBe(200);
    // Alive all the same: nothing should restart the process for this.
    expect((await apiClient(t.url).get('/healthz')).status).toBe(200);
  });

  it('counts tasks, claims, events, agents and requests in Prometheus text', async () => {
    const agent = await makeAccount(admin, t.url, { name: 'svc', type: 'service' });
    expect((await admin.post('/api/workspaces', { name: 'm1' })).status).toBe(201);
    for (const title of ['one', 'two']) {
      expect((await admin.post('/api/tasks', { workspaceId: 'm1', title, prompt: 'p' })).status).toBe(201);
    }
    expect((await admin.post('/api/tasks', { workspaceId: 'm1' })).status).toBe(400);
    expect((await admin.get('/api/nothing-here')).status).toBe(404);
    const claim = await agent.api.post('/api/workers/claim', {
      maxTasks: 1,
      capabilities: [],
      authType: 'api',
      agentId: 'a1',
    });
    expect(claim.body.workers).toHaveLength(1);
    const workerId = claim.body.workers[0].id;
    const at = new Date().toISOString();
    const events = [
      { seq: 0, type: 'assistant_text', at, data: { text: 'hi' } },
      { seq: 1, type: 'tool_use', at, data: { name: 'Write' } },
    ];
    expect((await agent.api.post(`/api/workers/${workerId}/events`, { events })).body.stored).toBe(2);
    // A replayed batch stores nothing and counts nothing.
    expect((await agent.api.post(`/api/workers/${workerId}/events`, { events })).body.stored).toBe(0);

    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(sample(text, 'buildd_tasks{status="pending"}')).toBe(1);
    expect(sample(text, 'buildd_tasks{status="assigned"}')).toBe(1);
    expect(sample(text, 'buildd_tasks{status="completed"}')).toBe(0);
    expect(sample(text, 'buildd_live_workers{status="claimed"}')).toBe(1);
    expect(sample(text, 'buildd_online_agents')).toBe(1);
    expect(sample(text, 'buildd_claims_total{outcome="claimed"}')).toBe(1);
    expect(sample(text, 'buildd_claimed_tasks_total')).toBe(1);
    expect(sample(text, 'buildd_claim_duration_seconds_count{outcome="claimed"}')).toBe(1);
    expect(sample(text, 'buildd_events_ingested_total')).toBe(2);
    expect(sample(text, 'buildd_webhook_deliveries_total{result="delivered"}')).toBe(0);
    expect(sample(text, 'buildd_http_requests_total{method="POST",route="/api/tasks",status="201"}')).toBe(2);
    expect(sample(text, 'buildd_http_requests_total{method="POST",route="/api/tasks",status="400"}')).toBe(1);
    expect(sample(text, 'buildd_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(
      sample(text, 'buildd_http_requests_total{method="POST",route="/api/workers/:id/events",status="200"}'),
    ).toBe(2);
    expect(text).toContain('process_resident_memory_bytes');
    // Patterns, never ids: no worker id, task id or key in any label.
    expect(text).not.toContain(workerId);
    expect(text).not.toContain(t.adminKey.slice(0, 16));
  });
});

describe('readiness without a database', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 once the database is gone, and stays alive', async () => {
    dir = await mkdtemp(join(tmpdir(), 'buildd-readyz-'));
    // The embedded PostgreSQL may run as another user (as root: `postgres`), which must reach its data dir.
    await chmod(dir, 0o755);
    const db = await openDb({ dataDir: join(dir, 'data') });
    const server = await startServer({
      db,
      log: pino({ level: 'silent' }),
      host: '127.0.0.1',
      port: 0,
      leaseSeconds: 60,
      renewSeconds: 15,
      reapIntervalSeconds: 3600,
    });
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      await db.close();
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { ready: boolean; database: { ok: boolean; error: string } };
      expect(body.ready).toBe(false);
      expect(body.database.ok).toBe(false);
      expect(body.database.error).toBeTruthy();
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

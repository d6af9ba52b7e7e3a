import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer } from '../src/server.ts';
import { apiClient, makeAccount } from './support/api.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';
import { openSse } from './support/sse.ts';

const taskStates = (events: Array<{ event?: string; data: string }>) =>
  events
    .filter((e) => e.event === 'task')
    .map((e) => `${JSON.parse(e.data).title}:${JSON.parse(e.data).status}`);

describe.each(await testEngines())('GET /api/stream on %s', (engine) => {
  const t = useTestServer({ engine, live: { recheckMs: 300 } });
  const admin = t.admin;

  it('sends each task change once, in order, and resumes with Last-Event-ID after a restart', async () => {
    await admin.post('/api/workspaces', { name: 'feed' });
    const feed = await openSse(`${t.url}/api/stream`, t.adminKey);
    await feed.until('ready', (e) => e.some((x) => x.event === 'ready'));
    const agent = await makeAccount(admin, t.url, { type: 'service' });
    await admin.post('/api/tasks', { workspaceId: 'feed', title: 'one', prompt: 'p' });
    const claim = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a1' });
    const w = claim.body.workers[0];
    await agent.api.patch(`/api/workers/${w.id}`, { status: 'running' });
    await agent.api.patch(`/api/workers/${w.id}`, { status: 'completed', summary: 'done' });
    await feed.until('completed', (e) => taskStates(e).includes('one:completed'));
    feed.close();
    expect(taskStates(feed.events)).toEqual(['one:pending', 'one:assigned', 'one:running', 'one:completed']);
    const agentsSeen = feed.events.filter((e) => e.event === 'agent').map((e) => JSON.parse(e.data));
    expect(agentsSeen.map((a) => [a.id, a.online])).toEqual([['a1', true]]);
    const assigned = feed.events.find((e) => e.event === 'task' && e.data.includes('"assigned"'))!;

    // The server goes away; another one on the same database takes over and the client resumes there.
    await t.server.close();
    const again = await startServer({
      db: t.db,
      log: pino({ level: 'silent' }),
      host: '127.0.0.1',
      port: 0,
      leaseSeconds: 60,
      renewSeconds: 15,
      reapIntervalSeconds: 3600,
    });
    try {
      await apiClient(again.url, t.adminKey).post('/api/tasks', {
        workspaceId: 'feed',
        title: 'two',
        prompt: 'p',
      });
      const resumed = await openSse(`${again.url}/api/stream`, t.adminKey, { 'last-event-id': assigned.id! });
      await resumed.until('task two', (e) => taskStates(e).includes('two:pending'));
      resumed.close();
      expect(taskStates(resumed.events)).toEqual(['one:running', 'one:completed', 'two:pending']);
      // The same changes carry the same ids on every server.
      const idsOf = (events: typeof feed.events) => events.flatMap((e) => (e.event === 'task' ? [e.id] : []));
      expect(idsOf(resumed.events).slice(0, 2)).toEqual(idsOf(feed.events).slice(2));
    } finally {
      await again.close();
    }
  });

  it('shows a member only what it may see, and stops when a grant or the key goes', async () => {
    await admin.post('/api/workspaces', { name: 'pub' });
    const secret = await admin.post('/api/workspaces', { name: 'secret', access: 'restricted' });
    const granted = await makeAccount(admin, t.url, { type: 'user' });
    const outsider = await makeAccount(admin, t.url, { type: 'user' });
    await admin.put(`/api/workspaces/${secret.body.id}/members/${granted.id}`, {
      canClaim: false,
      canCreate: true,
    });
    const mine = await openSse(`${t.url}/api/stream`, granted.key);
    const theirs = await openSse(`${t.url}/api/stream`, outsider.key);
    await admin.post('/api/tasks', { workspaceId: 'secret', title: 's1', prompt: 'p' });
    const s1 = (await admin.get('/api/tasks?workspaceId=secret')).body.items[0];
    await admin.post('/api/tasks', { workspaceId: 'pub', title: 'p1', prompt: 'p' });
    await mine.until('p1', (e) => taskStates(e).includes('p1:pending'));
    await theirs.until('p1', (e) => taskStates(e).includes('p1:pending'));
    expect(taskStates(mine.events)).toEqual(['s1:pending', 'p1:pending']);
    expect(taskStates(theirs.events)).toEqual(['p1:pending']);

    // The grant goes: the task stream of the restricted task ends, and the feed stops showing the workspace.
    const taskStream = await openSse(`${t.url}/api/tasks/${s1.id}/stream`, granted.key);
    await taskStream.until('the task', (e) => e.some((x) => x.event === 'task'));
    await admin.put(`/api/workspaces/${secret.body.id}/members/${granted.id}`, {
      canClaim: false,
      canCreate: false,
    });
    await taskStream.ended;
    await admin.post('/api/tasks', { workspaceId: 'secret', title: 's2', prompt: 'p' });
    await admin.post('/api/tasks', { workspaceId: 'pub', title: 'p2', prompt: 'p' });
    await mine.until('p2', (e) => taskStates(e).includes('p2:pending'));
    expect(taskStates(mine.events)).toEqual(['s1:pending', 'p1:pending', 'p2:pending']);

    // The key is revoked: its feed and its agent channel close by themselves.
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/api/agents/channel?agentId=x`, {
      headers: { authorization: `Bearer ${granted.key}` },
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const keys = await admin.get(`/api/accounts/${granted.id}/keys`);
    expect((await admin.del(`/api/keys/${keys.body.items[0].id}`)).status).toBe(200);
    await mine.ended;
    expect(await closed).toBe(1008);
    theirs.close();
    await theirs.ended;
    const deadline = Date.now() + 10_000;
    while (t.server.deps.live.reader.size.feeds > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(t.server.deps.live.reader.size).toEqual({ feeds: 0, taskStreams: 0 });
  });

  it('refuses a bad Last-Event-ID with a 400 and a feed of an unknown workspace with a 404', async () => {
    for (const id of ['99999999999999999999999-1', 'abc', '1-2-3']) {
      const res = await fetch(`${t.url}/api/stream`, {
        headers: { authorization: `Bearer ${t.adminKey}`, 'last-event-id': id },
      });
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('validation_failed');
    }
    const res = await fetch(`${t.url}/api/stream?workspaceId=nope`, {
      headers: { authorization: `Bearer ${t.adminKey}` },
    });
    expect(res.status).toBe(404);
  });
});

describe.each(await testEngines())('stream limits on %s', (engine) => {
  const t = useTestServer({ engine, live: { maxStreamsPerKey: 2, lifetimeMs: 1500, keepAliveMs: 200 } });

  it('caps the streams of one key and ends each at its lifetime with an id to resume from', async () => {
    const member = await makeAccount(t.admin, t.url, { type: 'user' });
    const first = await openSse(`${t.url}/api/stream`, member.key);
    const second = await openSse(`${t.url}/api/stream`, member.key);
    const third = await fetch(`${t.url}/api/stream`, { headers: { authorization: `Bearer ${member.key}` } });
    expect(third.status).toBe(429);
    const body = await third.json();
    expect(body.error.code).toBe('stream_limit');
    expect(body.error.details).toMatchObject({ limit: 2, current: 2 });
    // Another key is not affected.
    const admins = await openSse(`${t.url}/api/stream`, t.adminKey);
    await Promise.all([first.ended, second.ended]);
    expect(first.comments).toContain(': keep-alive');
    expect(first.events[0]).toMatchObject({ event: 'ready' });
    admins.close();
    const after = await openSse(`${t.url}/api/stream`, member.key);
    expect(after.res.status).toBe(200);
    after.close();
  });
});

describe.each(await testEngines())('lost hints on %s', (engine) => {
  const t = useTestServer({ engine, live: { pollMs: 500 } });

  it('listens again after its LISTEN connections are killed, and the poll covers the gap', async () => {
    await t.admin.post('/api/workspaces', { name: 'gap' });
    const feed = await openSse(`${t.url}/api/stream`, t.adminKey);
    await feed.until('ready', (e) => e.some((x) => x.event === 'ready'));
    const listeners = `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`;
    const before = await t.db.query<{ pid: number }>(listeners);
    expect(before.length).toBeGreaterThan(0);
    await t.db.query(`SELECT pg_terminate_backend(pid) FROM (${listeners}) l`);
    // Written while nobody listens: only the poll can bring it.
    await t.admin.post('/api/tasks', { workspaceId: 'gap', title: 'unheard', prompt: 'p' });
    await feed.until('the unheard task', (e) => taskStates(e).includes('unheard:pending'));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const now = await t.db.query<{ pid: number }>(listeners);
      if (now.length >= before.length && now.every((r) => !before.some((b) => b.pid === r.pid))) break;
      if (Date.now() > deadline) throw new Error('the server did not LISTEN again');
      await new Promise((r) => setTimeout(r, 50));
    }
    feed.close();
  });
});

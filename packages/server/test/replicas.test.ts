import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openPostgres } from '../src/db/postgres.ts';
import { type RunningServer, type StartOptions, startServer } from '../src/server.ts';
import { apiClient, makeAccount } from './support/api.ts';
import { type ChannelAgent, channelAgent } from './support/channel-agent.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';
import { openSse } from './support/sse.ts';

// Two buildd servers on one PostgreSQL, each with its own connection pool and its own LISTEN connection,
// as two processes behind a load balancer would be.

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const closing: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

describe.each(await testEngines())('two replicas on %s', (engine) => {
  const options = { leaseSeconds: 60, webhooks: { retryBaseMs: 50, pollMs: 100 } };
  const t = useTestServer({ engine, ...options });
  const admin = t.admin;

  /** Replica B: another server on the test's database, through a pool of its own. */
  async function replicaB(more: Partial<StartOptions> = {}): Promise<RunningServer> {
    const db = openPostgres({ connectionString: t.dbUrl!, engine, maxConnections: 5 });
    const b = await startServer({
      db,
      log: pino({ level: 'silent' }),
      host: '127.0.0.1',
      port: 0,
      leaseSeconds: 60,
      renewSeconds: 15,
      reapIntervalSeconds: 3600,
      webhooks: { allowPrivate: true, ...options.webhooks },
      ...more,
    });
    closing.push(async () => {
      await b.close();
      await db.close();
    });
    return b;
  }

  const track = (agent: ChannelAgent) => {
    closing.push(() => agent.close());
    return agent;
  };

  it('an agent on replica A is dispatched by a hint for a task created through replica B (it never polls)', async () => {
    const b = await replicaB();
    await admin.post('/api/workspaces', { name: 'across' });
    const acct = await makeAccount(admin, t.url, { type: 'service' });
    const agent = track(await channelAgent({ channelUrl: t.url, key: acct.key, agentId: 'on-a' }));
    expect(agent.claimed).toEqual([]);
    const task = await apiClient(b.url, t.adminKey).post('/api/tasks', {
      workspaceId: 'across',
      title: 'made on B',
      prompt: 'p',
    });
    await waitFor('the claim', () => agent.claimed.length > 0);
    expect(agent.claimed.map((w) => w.taskId)).toEqual([task.body.id]);
    expect(agent.hintClaims).toBe(1);
  });

  it("an agent whose channel is on A and whose long poll waits on B gets a task at once, through B's poll", async () => {
    // B takes no hint leases of its own, so only A's round, through the agent's channel, can wake B's poll.
    const b = await replicaB({ live: { hints: { leaseMs: 3000, wokenMs: 1000, maxGroupsPerRound: 0 } } });
    await admin.post('/api/workspaces', { name: 'split' });
    const acct = await makeAccount(admin, t.url, { type: 'service' });
    // Its channel on A (hints reach it there, and it leaves them to its long poll), its long poll on B.
    const agent = track(
      await channelAgent({ channelUrl: t.url, key: acct.key, agentId: 'split', deaf: true }),
    );
    const started = Date.now();
    const poll = apiClient(b.url, acct.key).post('/api/workers/claim', {
      maxTasks: 1,
      authType: 'api',
      agentId: 'split',
      capabilities: [],
      waitSeconds: 25,
    });
    await waitFor('the long poll on B', () => b.deps.live.hints.size > 0);
    const task = await admin.post('/api/tasks', { workspaceId: 'split', title: 'x', prompt: 'p' });
    const res = await poll;
    expect(res.body.workers.map((w: { taskId: string }) => w.taskId)).toEqual([task.body.id]);
    // Woken, not answered at the end of its wait: 20 s leaves a busy machine room, the wait is 25 s.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(agent.claimed).toEqual([]);
  });

  it('a feed on replica B sees what is written through replica A', async () => {
    const b = await replicaB();
    await admin.post('/api/workspaces', { name: 'seen' });
    const feed = await openSse(`${b.url}/api/stream`, t.adminKey);
    closing.push(() => feed.close());
    await feed.until('ready', (e) => e.some((x) => x.event === 'ready'));
    const acct = await makeAccount(admin, t.url, { type: 'service' });
    await admin.post('/api/tasks', { workspaceId: 'seen', title: 'via A', prompt: 'p' });
    await acct.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'x' });
    const states = () =>
      feed.events.filter((e) => e.event === 'task').map((e) => JSON.parse(e.data).status as string);
    await feed.until('assigned', () => states().includes('assigned'));
    expect(states()).toEqual(['pending', 'assigned']);
  });

  it('one new task among 50 idle agents on two replicas costs one or two claims, not 50', async () => {
    const b = await replicaB();
    await admin.post('/api/workspaces', { name: 'herd' });
    const agents: ChannelAgent[] = [];
    // Five accounts of ten agents, half on each replica: five groups that could each take the task.
    for (let a = 0; a < 5; a++) {
      const acct = await makeAccount(admin, t.url, { type: 'service', maxConcurrentWorkers: 20 });
      for (let i = 0; i < 10; i++) {
        const url = i % 2 === 0 ? t.url : b.url;
        agents.push(track(await channelAgent({ channelUrl: url, key: acct.key, agentId: `herd-${a}-${i}` })));
      }
    }
    await admin.post('/api/tasks', { workspaceId: 'herd', title: 'one', prompt: 'p' });
    await waitFor('the claim', () => agents.some((x) => x.claimed.length > 0));
    // Hints still in flight would show up within a round; give them that, then count.
    await new Promise((r) => setTimeout(r, 1500));
    const claims = agents.reduce((n, x) => n + x.hintClaims, 0);
    expect(agents.reduce((n, x) => n + x.claimed.length, 0)).toBe(1);
    expect(claims).toBeGreaterThanOrEqual(1);
    expect(claims).toBeLessThanOrEqual(2);
  });

  it('only agents that may claim the task are woken, and a hint that led nowhere is given again', async () => {
    await admin.post('/api/workspaces', { name: 'fit' });
    await admin.post('/api/workspaces', { name: 'elsewhere' });
    const acct = await makeAccount(admin, t.url, { type: 'service' });
    const user = await makeAccount(admin, t.url, { type: 'user' });
    const noGpu = track(await channelAgent({ channelUrl: t.url, key: acct.key, agentId: 'no-gpu' }));
    const otherWs = track(
      await channelAgent({
        channelUrl: t.url,
        key: acct.key,
        agentId: 'other-ws',
        capabilities: ['gpu'],
        workspaceIds: ['elsewhere'],
      }),
    );
    const wrongType = track(
      await channelAgent({ channelUrl: t.url, key: user.key, agentId: 'user-runner', capabilities: ['gpu'] }),
    );
    // Connected and able, but it never claims: its hint leads nowhere.
    const deaf = track(
      await channelAgent({
        channelUrl: t.url,
        key: acct.key,
        agentId: 'deaf',
        capabilities: ['gpu'],
        deaf: true,
      }),
    );
    const able = track(
      await channelAgent({ channelUrl: t.url, key: acct.key, agentId: 'able', capabilities: ['gpu'] }),
    );
    const task = await admin.post('/api/tasks', {
      workspaceId: 'fit',
      title: 'needs a gpu',
      prompt: 'p',
      requiredCapabilities: ['gpu'],
      runnerPreference: 'service',
    });
    await waitFor('the claim', () => able.claimed.length > 0);
    expect(able.claimed.map((w) => w.taskId)).toEqual([task.body.id]);
    expect([noGpu.hints, otherWs.hints, wrongType.hints]).toEqual([0, 0, 0]);
    expect(deaf.hints).toBeLessThanOrEqual(1);
  });

  it('webhook deliveries and reaper rounds run once per row with two replicas at work', async () => {
    const b = await replicaB();
    const got: string[] = [];
    const receiver = createServer((req, res) => {
      got.push(String(req.headers['buildd-delivery']));
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    closing.push(() => {
      receiver.closeAllConnections();
      return new Promise((r) => receiver.close(() => r()));
    });
    const port = (receiver.address() as AddressInfo).port;
    const ws = await admin.post('/api/workspaces', { name: 'once' });
    await admin.post(`/api/workspaces/${ws.body.id}/webhooks`, {
      url: `http://127.0.0.1:${port}/hook`,
      secret: 'a-long-enough-webhook-secret',
      events: ['task.completed'],
    });
    const acct = await makeAccount(admin, t.url, { type: 'service', maxConcurrentWorkers: 40 });
    const n = 20;
    for (let i = 0; i < n; i++)
      await admin.post('/api/tasks', { workspaceId: 'once', title: `t${i}`, prompt: 'p' });
    const claimed = await acct.api.post('/api/workers/claim', { maxTasks: n, authType: 'api', agentId: 'r' });
    expect(claimed.body.workers).toHaveLength(n);
    // Half of the workers complete (through either replica): one delivery each, whichever sender takes it.
    const viaB = apiClient(b.url, acct.key);
    await Promise.all(
      claimed.body.workers
        .slice(0, n / 2)
        .map((w: { id: string }, i: number) =>
          (i % 2 ? viaB : acct.api).patch(`/api/workers/${w.id}`, { status: 'completed', summary: 'ok' }),
        ),
    );
    // The other half's leases run out; both replicas reap at once, several times.
    await t.db.query(
      `UPDATE workers SET lease_expires_at = now() - interval '1 second' WHERE status = 'claimed'`,
    );
    const rounds = await Promise.all(
      Array.from({ length: 4 }, (_, i) => (i % 2 ? b.reap() : t.server.reap())),
    );
    expect(rounds.reduce((s, r) => s + r.lost, 0)).toBe(n / 2);
    // Each reaped task went back to pending once (one change), each lost worker was lost once.
    const pendings = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM changes WHERE kind = 'task' AND data ->> 'status' = 'pending'`,
    );
    expect(pendings[0]?.n).toBe(n + n / 2);
    const lost = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM workers WHERE status = 'lost'`,
    );
    expect(lost[0]?.n).toBe(n / 2);

    await waitFor('every delivery', async () => {
      const rows = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`,
      );
      return rows[0]?.n === n / 2;
    });
    // Both senders keep polling every 100 ms; let them go round a few more times before counting.
    await new Promise((r) => setTimeout(r, 1000));
    expect(got).toHaveLength(n / 2);
    expect(new Set(got).size).toBe(n / 2);
    const attempts = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_attempts');
    expect(attempts[0]?.n).toBe(n / 2);
  });
});

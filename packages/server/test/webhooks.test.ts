import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAccount } from './support/api.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

interface Received {
  headers: IncomingMessage['headers'];
  raw: string;
}

/** A webhook receiver on 127.0.0.1 that answers each request as `answer(n)` says (n from 1). */
async function receiver(answer: (n: number, res: ServerResponse) => void) {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      got.push({ headers: req.headers, raw });
      answer(got.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  open.push(server);
  return { got, port, url: `http://127.0.0.1:${port}/hook` };
}
const open: Array<ReturnType<typeof createServer>> = [];
afterEach(async () => {
  for (const s of open.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} within 20 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How a receiver checks a delivery (the README shows the same few lines). */
function verifies(secret: string, header: string, raw: string): boolean {
  const { t, v1 } = Object.fromEntries(header.split(',').map((kv) => kv.split('='))) as Record<
    string,
    string
  >;
  const expected = createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex');
  return v1 === expected && Math.abs(Date.now() / 1000 - Number(t)) < 300;
}

const secret = 'a-long-enough-webhook-secret';

describe.each(await testEngines())('webhooks on %s', (engine) => {
  const t = useTestServer({ engine, webhooks: { retryBaseMs: 50, timeoutMs: 1000, pollMs: 100 } });
  const admin = t.admin;

  it('signs each delivery; 500 twice then 200 is three attempts of one delivery, all in its log', async () => {
    const hook = await receiver((n, res) => {
      res.statusCode = n <= 2 ? 500 : 200;
      res.end();
    });
    const ws = await admin.post('/api/workspaces', { name: 'hooks' });
    const created = await admin.post(`/api/workspaces/${ws.body.id}/webhooks`, {
      url: hook.url,
      secret,
      events: ['task.completed'],
    });
    expect(created.status).toBe(201);
    expect(JSON.stringify(created.body)).not.toContain(secret);
    const listed = await admin.get(`/api/workspaces/hooks/webhooks`);
    expect(listed.body.items.map((h: { id: string }) => h.id)).toEqual([created.body.id]);
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    const task = await admin.post('/api/tasks', { workspaceId: 'hooks', title: 'hooked', prompt: 'p' });
    const agent = await makeAccount(admin, t.url, { type: 'service' });
    const w = (await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a' }))
      .body.workers[0];
    await agent.api.patch(`/api/workers/${w.id}`, { status: 'completed', summary: 'done' });
    await waitFor('three attempts', () => hook.got.length >= 3);
    const deliveryIds = new Set(hook.got.map((g) => g.headers['buildd-delivery']));
    expect(deliveryIds.size).toBe(1);
    for (const g of hook.got) {
      expect(verifies(secret, String(g.headers['buildd-signature']), g.raw)).toBe(true);
      expect(verifies('another-secret-entirely', String(g.headers['buildd-signature']), g.raw)).toBe(false);
      expect(g.headers['buildd-event']).toBe('task.completed');
      const body = JSON.parse(g.raw);
      expect(body).toMatchObject({ type: 'task.completed', task: { id: task.body.id, status: 'completed' } });
      expect(body.id).toBe(g.headers['buildd-delivery']);
    }
    const log = await waitFor('the delivered log', async () => {
      const d = await admin.get(`/api/webhooks/${created.body.id}/deliveries`);
      return d.body.items[0]?.status === 'delivered' ? d.body.items : undefined;
    });
    expect(log).toHaveLength(1);
    expect(log[0].attempts).toBe(3);
    expect(log[0].log.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 200]);
  });

  it('a receiver that hangs times out and is tried again; the test call never waits for it', async () => {
    const hook = await receiver((n, res) => {
      if (n === 1) return; // never answers
      res.end('ok');
    });
    const ws = await admin.post('/api/workspaces', { name: 'slow' });
    const created = await admin.post(`/api/workspaces/${ws.body.id}/webhooks`, { url: hook.url, secret });
    expect(created.body.events).toEqual([
      'task.completed',
      'task.failed',
      'task.cancelled',
      'task.waiting_input',
    ]);
    const test = await admin.post(`/api/webhooks/${created.body.id}/test`);
    expect(test.status).toBe(202);
    const items = await waitFor('a delivered test event', async () => {
      const d = await admin.get(`/api/webhooks/${created.body.id}/deliveries`);
      return d.body.items[0]?.status === 'delivered' ? d.body.items : undefined;
    });
    expect(items[0].type).toBe('ping');
    expect(items[0].log[0]).toMatchObject({ statusCode: null, error: expect.stringContaining('no answer') });
    expect(items[0].log.at(-1).statusCode).toBe(200);
    expect(JSON.parse(hook.got.at(-1)!.raw)).toMatchObject({ type: 'ping', task: null });
  });

  it('refuses bad bodies, members and unknown webhooks', async () => {
    const ws = await admin.post('/api/workspaces', { name: 'bad' });
    for (const body of [
      { url: 'ftp://example.com/x', secret },
      { url: 'http://example.com/x', secret: 'short' },
      { url: 'http://example.com/x', secret, events: ['task.exploded'] },
    ]) {
      const res = await admin.post(`/api/workspaces/${ws.body.id}/webhooks`, body);
      expect(res.status).toBe(400);
    }
    const member = await makeAccount(admin, t.url, { type: 'user' });
    expect(
      (await member.api.post(`/api/workspaces/${ws.body.id}/webhooks`, { url: 'http://e.com', secret }))
        .status,
    ).toBe(403);
    expect((await admin.get('/api/webhooks/whk_nope/deliveries')).status).toBe(404);
    expect((await admin.del('/api/webhooks/whk_nope')).status).toBe(404);
  });
});

describe.each(await testEngines())('webhook targets on %s', (engine) => {
  const t = useTestServer({ engine, webhooks: { allowPrivate: false, retryBaseMs: 60_000, pollMs: 100 } });

  it('sends nothing to loopback or private addresses unless the operator allows it', async () => {
    const hook = await receiver((_n, res) => res.end());
    const ws = await t.admin.post('/api/workspaces', { name: 'private' });
    const literal = await t.admin.post(`/api/workspaces/${ws.body.id}/webhooks`, { url: hook.url, secret });
    expect(literal.status).toBe(400);
    expect(literal.body.error.message).toContain('BUILDD_WEBHOOK_ALLOW_PRIVATE');
    // A name that resolves to loopback is caught when it is resolved, at each send.
    const named = await t.admin.post(`/api/workspaces/${ws.body.id}/webhooks`, {
      url: `http://localhost:${hook.port}/hook`,
      secret,
    });
    expect(named.status).toBe(201);
    await t.admin.post(`/api/webhooks/${named.body.id}/test`);
    const items = await waitFor('a refused attempt', async () => {
      const d = await t.admin.get(`/api/webhooks/${named.body.id}/deliveries`);
      return d.body.items[0]?.log.length > 0 ? d.body.items : undefined;
    });
    expect(items[0].log[0].error).toContain('private or loopback');
    expect(hook.got).toHaveLength(0);
  });
});

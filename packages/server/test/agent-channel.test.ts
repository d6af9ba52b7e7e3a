import type { AgentChannelMessage } from '@buildd/protocol';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeAccount } from './support/api.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

/** Connects like an agent and collects what the server pushes. */
async function connect(url: string, key: string, agentId: string) {
  const messages: AgentChannelMessage[] = [];
  const ws = new WebSocket(`${url.replace('http', 'ws')}/api/agents/channel?agentId=${agentId}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (type: AgentChannelMessage['type']) => {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const found = messages.find((m) => m.type === type);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no ${type} message within 5 s; got ${JSON.stringify(messages)}`);
  };
  return { ws, messages, next };
}

/** Waits for a condition (bounded by a generous deadline, never a timing assertion). */
async function until(what: string, ok: () => boolean, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(await testEngines())('agent channel on %s', (engine) => {
  const t = useTestServer({ engine });
  const admin = t.admin;

  it('refuses a socket without a valid key', async () => {
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/api/agents/channel`, {
      headers: { authorization: 'Bearer buildd_user_notarealkeynotarealkeynotarealkey12' },
    });
    const status = await new Promise<number>((resolve) =>
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });

  it('pushes a hint when a task is created and a cancel to the agent running it', async () => {
    const agent = await makeAccount(admin, t.url, { type: 'service' });
    const other = await makeAccount(admin, t.url, { type: 'service' });
    const mine = await connect(t.url, agent.key, 'agent-1');
    const theirs = await connect(t.url, other.key, 'agent-2');
    await mine.next('hello');
    await admin.post('/api/workspaces', { name: 'ch' });
    const task = await admin.post('/api/tasks', { workspaceId: 'ch', title: 'x', prompt: 'y' });
    await mine.next('tasks_available');

    const claim = await agent.api.post('/api/workers/claim', {
      maxTasks: 1,
      authType: 'api',
      agentId: 'agent-1',
    });
    const workerId = claim.body.workers[0].id;
    await admin.post(`/api/tasks/${task.body.id}/cancel`);
    const cancel = await mine.next('cancel');
    expect(cancel).toEqual({ type: 'cancel', workerId, reason: 'cancelled' });
    // Another account's agent never hears about this worker.
    await new Promise((r) => setTimeout(r, 200));
    expect(theirs.messages.some((m) => m.type === 'cancel')).toBe(false);
    mine.ws.close();
    theirs.ws.close();
  });
});

describe.each(await testEngines())('dead peers on the agent channel on %s', (engine) => {
  const t = useTestServer({ engine, channelPingMs: 200 });

  it('drops a peer that stops answering pings (a half-open connection), so it no longer counts', async () => {
    const acct = await makeAccount(t.admin, t.url, { type: 'service' });
    const url = `${t.url.replace('http', 'ws')}/api/agents/channel?agentId=`;
    const answering = new WebSocket(`${url}alive`, { headers: { authorization: `Bearer ${acct.key}` } });
    // autoPong off: the socket stays open on this side but never answers, as a peer behind a dead link.
    const silent = new WebSocket(`${url}silent`, {
      headers: { authorization: `Bearer ${acct.key}` },
      autoPong: false,
    });
    await Promise.all([answering, silent].map((s) => new Promise((r) => s.once('open', r))));
    const closed = new Promise<number>((r) => silent.once('close', (code) => r(code)));
    await until('both connected', () => t.server.channel.size === 2);
    expect(await closed).toBe(1006);
    await until('one connection left', () => t.server.channel.size === 1);
    // The answering peer outlives many ping rounds.
    await new Promise((r) => setTimeout(r, 1000));
    expect(answering.readyState).toBe(WebSocket.OPEN);
    expect(t.server.channel.size).toBe(1);
    answering.close();
    silent.terminate();
  });
});

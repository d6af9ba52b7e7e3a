/**
 * Input that once answered 500 or broke a stream: numbers past any id in cursors, `after=` and
 * `Last-Event-ID`, and event data nested thousands of levels deep. Each is a 400 in the JSON error shape,
 * and the task and its stream stay usable afterwards.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { makeAccount } from './support/api.ts';
import { expectApiError } from './support/checks.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe.each(await testEngines())('hostile input on %s', (engine) => {
  const t = useTestServer({ engine }, 'file');

  it('a huge or malformed cursor, after= or Last-Event-ID is a 400; the stream still works', async () => {
    await t.admin.post('/api/workspaces', { name: 'big-numbers' });
    const task = await t.admin.post('/api/tasks', { workspaceId: 'big-numbers', title: 't', prompt: 'p' });
    const id = task.body.id;
    const huge = '99999999999999999999999';
    for (const path of [
      `/api/tasks?cursor=${huge}`,
      '/api/tasks?cursor=-1',
      `/api/tasks/${id}/events?after=${huge}`,
      `/api/tasks/${id}/events?cursor=${huge}`,
      `/api/tasks/${id}/events?after=1e3`,
      `/api/tasks/${id}/stream?after=${huge}`,
    ]) {
      expectApiError(await t.admin.get(path), 400, 'validation_failed');
    }
    for (const lastEventId of [huge, 'abc', '-5']) {
      const res = await t.admin.call('GET', `/api/tasks/${id}/stream`, undefined, {
        'last-event-id': lastEventId,
      });
      expectApiError(res, 400, 'validation_failed');
      expect(res.body.error.message).toContain('Last-Event-ID');
    }
    expect((await t.admin.get(`/api/tasks?cursor=${Number.MAX_SAFE_INTEGER}`)).status).toBe(200);
    expect((await t.admin.get(`/api/tasks/${id}/events?after=0`)).body.items).toEqual([]);
  });

  it('event data nested thousands of levels deep is a 400; the worker and its stream go on', async () => {
    await t.admin.post('/api/workspaces', { name: 'deep' });
    const task = await t.admin.post('/api/tasks', { workspaceId: 'deep', title: 't', prompt: 'p' });
    const agent = await makeAccount(t.admin, t.url, { type: 'service' });
    const claim = await agent.api.post('/api/workers/claim', {
      maxTasks: 1,
      workspaceIds: ['deep'],
      authType: 'api',
      agentId: 'a',
    });
    const w = claim.body.workers[0];
    const at = new Date().toISOString();
    for (const depth of [5000, 200]) {
      const body = `{"events":[{"seq":0,"type":"assistant_text","at":"${at}","data":${nested(depth)}}]}`;
      const res = await agent.api.call('POST', `/api/workers/${w.id}/events`, body, {
        'content-type': 'application/json',
      });
      expectApiError(res, 400, 'validation_failed');
      expect(res.body.error.message).toMatch(/nested/);
    }
    const fine = await agent.api.post(`/api/workers/${w.id}/events`, {
      events: [{ seq: 0, type: 'assistant_text', at, data: JSON.parse(nested(20)) }],
    });
    expect(fine.body).toEqual({ stored: 1, lastSeq: 0 });
    const done = await agent.api.patch(`/api/workers/${w.id}`, { status: 'completed', summary: 'done' });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const stream = await fetch(`${t.url}/api/tasks/${task.body.id}/stream`, {
      headers: { authorization: `Bearer ${t.adminKey}` },
    });
    const text = await stream.text();
    expect(text).toContain('event: progress');
    expect(text).toContain('"status":"completed"');
  });

  it('a client that hangs up half-way through a body creates nothing, and the server goes on', async () => {
    await t.admin.post('/api/workspaces', { name: 'half-body' });
    const before = (await t.admin.get('/api/tasks?workspaceId=half-body')).body.items.length;
    const url = new URL(t.url);
    const body = JSON.stringify({ workspaceId: 'half-body', title: 'cut', prompt: 'p'.repeat(5000) });
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST /api/tasks HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${t.adminKey}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 100)}`,
        );
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 200);
      });
      socket.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 200));
    expect((await t.admin.get('/healthz')).status).toBe(200);
    expect((await t.admin.get('/api/tasks?workspaceId=half-body')).body.items).toHaveLength(before);
    const whole = await t.admin.post('/api/tasks', JSON.parse(body));
    expect(whole.status).toBe(201);
  });
});

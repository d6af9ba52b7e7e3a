import { describe, expect, it } from 'vitest';
import { makeAccount } from './support/api.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';
import { openSse } from './support/sse.ts';

interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** Reads a whole SSE response (the stream ends when the task is final) into its events. */
async function readSse(url: string, key: string, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}`, ...headers } });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const e: SseEvent = { data: '' };
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(':');
        const value = rest.join(':').trimStart();
        if (field === 'id') e.id = value;
        if (field === 'event') e.event = value;
        if (field === 'data') e.data += value;
      }
      return e;
    });
}

describe.each(await testEngines())('task progress stream on %s', (engine) => {
  const t = useTestServer({ engine });
  const admin = t.admin;

  it('streams events with ids and the task state, and resumes after Last-Event-ID', async () => {
    await admin.post('/api/workspaces', { name: 'sse' });
    const task = await admin.post('/api/tasks', { workspaceId: 'sse', title: 't', prompt: 'p' });
    const agent = await makeAccount(admin, t.url, { type: 'service' });
    const claim = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a' });
    const w = claim.body.workers[0];
    const at = new Date().toISOString();
    const streamUrl = `${t.url}/api/tasks/${task.body.id}/stream`;
    const reading = readSse(streamUrl, t.adminKey);
    await agent.api.post(`/api/workers/${w.id}/events`, {
      events: [0, 1, 2].map((seq) => ({ seq, type: 'assistant_text', at, data: { text: `step ${seq}` } })),
    });
    await new Promise((r) => setTimeout(r, 700));
    await agent.api.patch(`/api/workers/${w.id}`, { status: 'completed', summary: 'done' });
    const events = await reading;
    const progress = events.filter((e) => e.event === 'progress');
    expect(progress.map((e) => JSON.parse(e.data).data.text)).toEqual(['step 0', 'step 1', 'step 2']);
    expect(progress.every((e) => e.id && Number(e.id) > 0)).toBe(true);
    const states = events.filter((e) => e.event === 'task').map((e) => JSON.parse(e.data).status);
    expect(states.at(-1)).toBe('completed');

    const resumed = await readSse(streamUrl, t.adminKey, { 'last-event-id': progress[0]!.id! });
    expect(resumed.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data).seq)).toEqual([1, 2]);
  });

  it("keeps a member's stream of a task whose workspace was made while no stream was open", async () => {
    // Nothing listens while the workspace and task are made, so the reader reads no change rows and the
    // guard learns the workspace only from the stream itself; the guard's re-check (every 2 s) must not
    // take it for a workspace the member may not see.
    await admin.post('/api/workspaces', { name: 'sse-quiet' });
    const task = await admin.post('/api/tasks', { workspaceId: 'sse-quiet', title: 't', prompt: 'p' });
    const member = await makeAccount(admin, t.url, { level: 'member' });
    const agent = await makeAccount(admin, t.url, { type: 'service' });
    const claim = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a' });
    const w = claim.body.workers[0];
    const reading = readSse(`${t.url}/api/tasks/${task.body.id}/stream`, member.key);
    await new Promise((r) => setTimeout(r, 4500));
    const at = new Date().toISOString();
    await agent.api.post(`/api/workers/${w.id}/events`, {
      events: [0, 1].map((seq) => ({ seq, type: 'assistant_text', at, data: { text: `late ${seq}` } })),
    });
    await new Promise((r) => setTimeout(r, 700));
    await agent.api.patch(`/api/workers/${w.id}`, { status: 'completed', summary: 'done' });
    const events = await reading;
    expect(events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data).data.text)).toEqual([
      'late 0',
      'late 1',
    ]);
    expect(
      events
        .filter((e) => e.event === 'task')
        .map((e) => JSON.parse(e.data).status)
        .at(-1),
    ).toBe('completed');
  });

  it('answers 404 for a task the caller cannot see', async () => {
    const res = await fetch(`${t.url}/api/tasks/task_nope/stream`, {
      headers: { authorization: `Bearer ${t.adminKey}` },
    });
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('not_found');
  });
});

describe.each(await testEngines())('viewers share one reader on %s', (engine) => {
  const t = useTestServer({ engine, live: { pollMs: 60_000 } });

  it('many viewers of one task cost the same reads as one, and each gets every event once', async () => {
    await t.admin.post('/api/workspaces', { name: 'many' });
    const task = await t.admin.post('/api/tasks', { workspaceId: 'many', title: 't', prompt: 'p' });
    const agent = await makeAccount(t.admin, t.url, { type: 'service' });
    const w = (await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a' }))
      .body.workers[0];
    const viewers = await Promise.all(
      Array.from({ length: 30 }, () => openSse(`${t.url}/api/tasks/${task.body.id}/stream`, t.adminKey)),
    );
    await Promise.all(viewers.map((v) => v.until('the task', (e) => e.some((x) => x.event === 'task'))));
    const reader = t.server.deps.live.reader;
    // Let the joins' own catch-up reads settle before counting.
    await new Promise((r) => setTimeout(r, 200));
    const before = reader.rounds;
    const at = new Date().toISOString();
    for (let batch = 0; batch < 5; batch++) {
      await agent.api.post(`/api/workers/${w.id}/events`, {
        events: [0, 1, 2, 3].map((i) => ({ seq: batch * 4 + i, type: 'assistant_text', at, data: { i } })),
      });
    }
    await agent.api.patch(`/api/workers/${w.id}`, { status: 'completed', summary: 'done' });
    await Promise.all(viewers.map((v) => v.ended));
    for (const v of viewers) {
      expect(v.of('progress').map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(v.of('task').at(-1).status).toBe('completed');
    }
    // Five event batches and two task changes: a handful of shared reads, fewer than one per viewer (polling
    // streams made one each every 500 ms, two queries each).
    expect(reader.rounds - before).toBeLessThan(viewers.length);
  });
});

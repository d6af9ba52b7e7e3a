import { describe, expect, it } from 'vitest';
import { makeAccount } from './support/api.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

describe.each(await testEngines())('task lifecycle on %s', (engine) => {
  const t = useTestServer({ engine, inProcess: true });
  const admin = t.admin;

  it('creates, claims, runs and completes a task, with cost counted once', async () => {
    const ws = await admin.post('/api/workspaces', { name: 'repo-one', repoUrl: '/tmp/none.git' });
    expect(ws.status).toBe(201);
    expect(ws.body.id).toMatch(/^ws-/);
    const agent = await makeAccount(admin, t.url, { name: 'svc', type: 'service' });

    const task = await admin.post('/api/tasks', {
      workspaceId: 'repo-one',
      title: 'Fix it',
      prompt: 'Please fix',
    });
    expect(task.status).toBe(201);
    expect(task.body.status).toBe('pending');

    const claim = await agent.api.post('/api/workers/claim', {
      maxTasks: 2,
      capabilities: [],
      authType: 'api',
      agentId: 'a1',
    });
    expect(claim.status).toBe(200);
    expect(claim.body.workers).toHaveLength(1);
    const w = claim.body.workers[0];
    expect(w.taskId).toBe(task.body.id);
    expect(w.task.description).toBe('Please fix');
    expect(w.workspace.name).toBe('repo-one');

    const again = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a1' });
    expect(again.body.workers).toHaveLength(0);
    expect(again.body.diagnostics.reason).toBe('no_pending_tasks');

    const running = await agent.api.patch(`/api/workers/${w.id}`, {
      status: 'running',
      costUsd: 0.5,
      inputTokens: 100,
    });
    expect(running.status).toBe(200);
    expect(running.body.abort).toBe(false);
    // A retried PATCH with the same totals adds nothing.
    await agent.api.patch(`/api/workers/${w.id}`, { costUsd: 0.5, inputTokens: 100 });
    const events = await agent.api.post(`/api/workers/${w.id}/events`, {
      events: [
        { seq: 0, type: 'assistant_text', at: new Date().toISOString(), data: { text: 'hi' } },
        { seq: 1, type: 'tool_use', at: new Date().toISOString(), data: { name: 'Write' } },
      ],
    });
    expect(events.body).toEqual({ stored: 2, lastSeq: 1 });
    const dup = await agent.api.post(`/api/workers/${w.id}/events`, {
      events: [{ seq: 1, type: 'tool_use', at: new Date().toISOString(), data: { name: 'Write' } }],
    });
    expect(dup.body).toEqual({ stored: 0, lastSeq: 1 });

    const done = await agent.api.patch(`/api/workers/${w.id}`, {
      status: 'completed',
      costUsd: 0.75,
      summary: 'Fixed',
      commitSha: 'abc123',
      filesChanged: 2,
    });
    expect(done.status).toBe(200);
    const late = await agent.api.patch(`/api/workers/${w.id}`, { costUsd: 0.9 });
    expect(late.status).toBe(409);
    expect(late.body.abort).toBe(true);

    const final = await admin.get(`/api/tasks/${task.body.id}`);
    expect(final.body.status).toBe('completed');
    expect(final.body.result.summary).toBe('Fixed');
    expect(final.body.result.commitSha).toBe('abc123');
    expect(final.body.costUsd).toBeCloseTo(0.75);
    expect(final.body.workers).toHaveLength(1);
    const usage = await t.db.query<{ cost_usd: number; input_tokens: number }>('SELECT * FROM usage_days');
    expect(usage[0]?.cost_usd).toBeCloseTo(0.75);
    expect(usage[0]?.input_tokens).toBe(100);

    const ev = await admin.get(`/api/tasks/${task.body.id}/events`);
    expect(ev.body.items.map((e: { seq: number }) => e.seq)).toEqual([0, 1]);
  });
});

/**
 * Messages to a running task: kept in the database until the holder's agent says its session took them,
 * readable only by the holder, sent only by the task's creator or an admin; one that comes too late for the
 * session becomes the task's follow-up, so nothing a person sent is lost.
 */
import { describe, expect, it } from 'vitest';
import { makeAccount } from './support/api.ts';
import { dbSnapshot, expectApiError } from './support/checks.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

describe.each(await testEngines())('messages to a running task on %s', (engine) => {
  const t = useTestServer({ engine, inProcess: true });

  /** A person's task, claimed and started by an agent account. */
  async function runningTask(ws: string) {
    await t.admin.post('/api/workspaces', { name: ws });
    const person = await makeAccount(t.admin, t.url, { type: 'user' });
    const agent = await makeAccount(t.admin, t.url, { type: 'service' });
    const task = await person.api.post('/api/tasks', { workspaceId: ws, title: 'Work', prompt: 'p' });
    const claim = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a1' });
    const workerId = claim.body.workers[0].id as string;
    await agent.api.patch(`/api/workers/${workerId}`, { status: 'running' });
    return { person, agent, taskId: task.body.id as string, workerId };
  }

  it('queues a message for the live session until the holder confirms it; only the holder reads it', async () => {
    const { person, agent, taskId, workerId } = await runningTask('m-ws');
    const stranger = await makeAccount(t.admin, t.url, { type: 'user' });
    const member = await makeAccount(t.admin, t.url, { type: 'user' });

    // Bad input and the wrong people change nothing.
    const before = await dbSnapshot(t.db);
    expectApiError(
      await person.api.post(`/api/tasks/${taskId}/messages`, { text: ' ' }),
      400,
      'validation_failed',
    );
    expectApiError(
      await person.api.post(`/api/tasks/${taskId}/messages`, { txt: 'x' }),
      400,
      'validation_failed',
    );
    expectApiError(await member.api.post(`/api/tasks/${taskId}/messages`, { text: 'hi' }), 403, 'forbidden');
    expectApiError(await person.api.post('/api/tasks/task_nope/messages', { text: 'hi' }), 404, 'not_found');
    expect(await dbSnapshot(t.db)).toBe(before);

    const sent = await person.api.post(`/api/tasks/${taskId}/messages`, { text: 'Use tabs, please.' });
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ id: taskId, status: 'running' });
    const admin = await t.admin.post(`/api/tasks/${taskId}/messages`, { text: 'And add a test.' });
    expect(admin.status).toBe(202);

    const pending = await agent.api.get(`/api/workers/${workerId}/messages`);
    expect(pending.status).toBe(200);
    expect(pending.body.items.map((m: { text: string }) => m.text)).toEqual([
      'Use tabs, please.',
      'And add a test.',
    ]);
    // Another account's worker is unknown; a person cannot read the agent's queue either.
    expectApiError(await stranger.api.get(`/api/workers/${workerId}/messages`), 404, 'not_found');
    expectApiError(await person.api.get(`/api/workers/${workerId}/messages`), 404, 'not_found');
    expectApiError(
      await stranger.api.post(`/api/workers/${workerId}/messages/delivered`, {
        ids: [pending.body.items[0].id],
      }),
      404,
      'not_found',
    );
    const unchanged = await dbSnapshot(t.db);
    expectApiError(
      await agent.api.post(`/api/workers/${workerId}/messages/delivered`, { ids: [] }),
      400,
      'validation_failed',
    );
    expectApiError(
      await agent.api.post(`/api/workers/${workerId}/messages/delivered`, {}),
      400,
      'validation_failed',
    );
    expect(await dbSnapshot(t.db)).toBe(unchanged);

    const first = pending.body.items[0].id as string;
    const marked = await agent.api.post(`/api/workers/${workerId}/messages/delivered`, { ids: [first] });
    expect(marked.body).toEqual({ marked: 1 });
    // Confirming twice is harmless.
    expect(
      (await agent.api.post(`/api/workers/${workerId}/messages/delivered`, { ids: [first] })).body,
    ).toEqual({
      marked: 0,
    });
    const left = await agent.api.get(`/api/workers/${workerId}/messages`);
    expect(left.body.items.map((m: { text: string }) => m.text)).toEqual(['And add a test.']);

    // The run completes with one message never taken: the task goes on with it as a follow-up.
    await agent.api.patch(`/api/workers/${workerId}`, { status: 'completed', summary: 'done' });
    const task = (await person.api.get(`/api/tasks/${taskId}`)).body;
    expect(task.status).toBe('pending');
    const again = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a2' });
    expect(again.body.workers[0]).toMatchObject({
      taskId,
      resume: { input: { kind: 'message', text: 'And add a test.' } },
    });
    // The earlier worker is over: its queue is closed.
    expectApiError(await agent.api.get(`/api/workers/${workerId}/messages`), 409, 'worker_not_live');
    // The new attempt has nothing left to take: the message went into its resume input instead.
    const fresh = await agent.api.get(`/api/workers/${again.body.workers[0].id}/messages`);
    expect(fresh.body.items).toEqual([]);
  });

  it('a message to a finished task is a follow-up; to a pending one it is refused', async () => {
    const { person, agent, taskId, workerId } = await runningTask('f-ws');
    await agent.api.patch(`/api/workers/${workerId}`, { status: 'completed', summary: 'done' });
    const pending = await person.api.post('/api/tasks', { workspaceId: 'f-ws', title: 'Later', prompt: 'p' });
    expectApiError(
      await person.api.post(`/api/tasks/${pending.body.id}/messages`, { text: 'x' }),
      409,
      'conflict',
    );
    const sent = await person.api.post(`/api/tasks/${taskId}/messages`, { text: 'More, please.' });
    expect(sent.status).toBe(202);
    expect(sent.body.status).toBe('pending');
  });

  it('the OpenAPI document lists the message routes', async () => {
    const doc = (await t.admin.get('/api/openapi.json')).body;
    expect(doc.paths['/api/tasks/{id}/messages'].post).toBeDefined();
    expect(doc.paths['/api/workers/{id}/messages'].get).toBeDefined();
    expect(doc.paths['/api/workers/{id}/messages/delivered'].post.requestBody).toBeDefined();
  });
});

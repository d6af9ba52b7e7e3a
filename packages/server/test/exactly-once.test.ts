import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient, makeAccount } from './support/api.ts';
import { testEngines } from './support/engines.ts';
import { startTestServer, type TestServer } from './support/server.ts';

// Enough for every claimer to contend for many rounds; small enough to finish on a machine busy with other work.
const taskCount = 600;
const claimers = 40;
const accountCount = 5;
const workerLimit = 6;

describe.each(await testEngines())('exactly-once claims on %s', (engine) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ engine });
  });
  afterAll(async () => {
    await t.close();
  });

  it(`hands each of ${taskCount} tasks to exactly one of ${claimers} concurrent claimers within limits`, async () => {
    const admin = apiClient(t.url, t.adminKey);
    const ws = await admin.post('/api/workspaces', { name: 'load' });
    const me = await admin.get('/api/me');
    // Creation is not what is under test here, so the tasks go in with one statement.
    await t.db.query(
      `INSERT INTO tasks (id, workspace_id, title, prompt, priority, created_by)
       SELECT 'task_load' || g, $1, 'load ' || g, 'do ' || g, g % 3, $2 FROM generate_series(1, $3) AS g`,
      [ws.body.id, me.body.account.id, taskCount],
    );
    const accounts: { id: string; api: ApiClient }[] = [];
    for (let i = 0; i < accountCount; i++) {
      accounts.push(await makeAccount(admin, t.url, { type: 'service', maxConcurrentWorkers: workerLimit }));
    }

    // Watch the limit while the load runs, not only at the end.
    let maxLiveSeen = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const rows = await t.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM workers WHERE status IN ('claimed', 'running') GROUP BY account_id`,
        );
        for (const r of rows) maxLiveSeen = Math.max(maxLiveSeen, r.n);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const handedOut: string[] = [];
    let limited = 0;
    const claimer = async (index: number) => {
      const { api } = accounts[index % accountCount]!;
      let empty = 0;
      while (empty < 3) {
        const res = await api.post('/api/workers/claim', {
          maxTasks: 1 + (index % 4),
          authType: 'api',
          agentId: `agent-${index}`,
        });
        if (res.status === 429) {
          limited++;
          await new Promise((r) => setTimeout(r, 20 + Math.random() * 20));
          continue;
        }
        expect(res.status).toBe(200);
        if (res.body.workers.length === 0) {
          empty++;
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        empty = 0;
        for (const w of res.body.workers) {
          handedOut.push(w.taskId);
          expect((await api.patch(`/api/workers/${w.id}`, { status: 'running' })).status).toBe(200);
          expect(
            (await api.patch(`/api/workers/${w.id}`, { status: 'completed', summary: 'ok' })).status,
          ).toBe(200);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: claimers }, (_, i) => claimer(i)));
    } finally {
      // Also when a claimer failed: the watcher must not outlive the test (and query a dropped database).
      watching = false;
      await watcher;
    }

    expect(handedOut).toHaveLength(taskCount);
    expect(new Set(handedOut).size).toBe(taskCount);
    expect(maxLiveSeen).toBeGreaterThan(0);
    expect(maxLiveSeen).toBeLessThanOrEqual(workerLimit);
    const perTask = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM workers GROUP BY task_id HAVING count(*) > 1',
    );
    expect(perTask).toHaveLength(0);
    const statuses = await t.db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM tasks GROUP BY status',
    );
    expect(statuses).toEqual([{ status: 'completed', n: taskCount }]);
    console.log(
      `${engine}: ${taskCount} tasks, ${claimers} claimers, ${limited} limit answers, max live per account ${maxLiveSeen}`,
    );
  }, 240_000);
});

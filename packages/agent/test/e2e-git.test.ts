/**
 * The agent as an operator runs it: the real server, a real agent limited to two tasks at once and to two
 * of three workspaces, the real SDK against the scripted Messages API, and real git with local bare
 * origins. Five tasks: never more than two at once, all five completed with their commit on their branch
 * in origin, cost and tokens exactly what the fake's usage implies; the task in the third workspace waits.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient, makeAccount } from '../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { type RunningAgent, startAgent } from '../src/agent.ts';
import { fakeApiKey, memoryLog, testConfig } from './support/agent-harness.ts';
import { bash, type FakeAnthropic, startFakeAnthropic, text, write } from './support/fake-anthropic.ts';
import { makeOrigin, type Origin } from './support/git-fixtures.ts';

const usage = { input_tokens: 1000, output_tokens: 100 };
// claude-sonnet-4-5: $3 per million input tokens, $15 per million output tokens; three answers per task.
const costPerTask = (3 * (1000 * 3 + 100 * 15)) / 1e6;

let server: TestServer;
let admin: ApiClient;
let anthropic: FakeAnthropic;
let agent: RunningAgent | undefined;
let root: string;
const origins: Record<string, Origin> = {};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'buildd-e2e-git-'));
  server = await startTestServer({ leaseSeconds: 20, renewSeconds: 2 });
  admin = apiClient(server.url, server.adminKey);
  for (const name of ['alpha', 'beta', 'gamma']) {
    mkdirSync(join(root, name));
    origins[name] = makeOrigin(join(root, name));
    const ws = await admin.post('/api/workspaces', {
      name,
      repoUrl: origins[name].url,
      defaultBranch: 'main',
    });
    expect(ws.status).toBe(201);
  }
  anthropic = await startFakeAnthropic({
    scriptFor: (_session, first) => {
      const file = JSON.stringify(first).match(/FILE=([\w.-]+)/)?.[1] ?? 'unknown.txt';
      return [
        write(file, `made for ${file}\n`, { usage }),
        // A slow tool call, so that runs overlap and the limit is put to the test.
        bash(`python3 -c "import time; time.sleep(2)"`, { usage }),
        text(`Wrote ${file}.`, { usage }),
      ];
    },
  });
});

afterAll(async () => {
  await agent?.stop();
  await anthropic?.close();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('agent with --max-tasks=2 and two of three workspaces', () => {
  it('runs five tasks two at a time, pushes each branch, reports exact cost, leaves the other workspace alone', async () => {
    const svc = await makeAccount(admin, server.url, {
      type: 'service',
      maxConcurrentWorkers: 10,
      maxConcurrentSessions: 10,
    });
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const workspaceId = i % 2 === 0 ? 'beta' : 'alpha';
      const res = await admin.post('/api/tasks', {
        workspaceId,
        title: `task ${i}`,
        prompt: `Create FILE=f${i}.txt`,
      });
      ids.push(res.body.id);
    }
    const outside = await admin.post('/api/tasks', {
      workspaceId: 'gamma',
      title: 'elsewhere',
      prompt: 'FILE=g.txt',
    });

    const home = mkdtempSync(join(root, 'home-'));
    mkdirSync(join(home, 'tmp'));
    const config = testConfig(
      server.url,
      ['--api-key', svc.key, '--max-tasks=2', '--workspace=alpha,beta', '--poll-interval=1'],
      {
        HOME: home,
        CLAUDE_CONFIG_DIR: join(home, '.claude'),
        CLAUDE_CODE_TMPDIR: join(home, 'tmp'),
        ANTHROPIC_BASE_URL: anthropic.url,
        CLAUDE_CODE_MAX_RETRIES: '0',
        ANTHROPIC_API_KEY: fakeApiKey,
        CLAUDE_CODE_OAUTH_TOKEN: '',
      },
    );
    const logs = memoryLog();
    agent = startAgent(config, { log: logs.log });

    let maxLive = 0;
    // Generous: five sandboxed runs on a machine busy with other work.
    const deadline = Date.now() + 300_000;
    let done = 0;
    while (done < 5 && Date.now() < deadline) {
      const live = await server.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM workers WHERE status IN ('claimed', 'running')`,
      );
      maxLive = Math.max(maxLive, live[0]?.n ?? 0);
      const finished = await server.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1::text[]) AND status IN ('completed', 'failed', 'cancelled')`,
        [ids],
      );
      done = finished[0]?.n ?? 0;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (maxLive !== 2 || done < 5)
      console.error(
        maxLive,
        done,
        JSON.stringify(
          await server.db.query(
            `SELECT w.id, w.status, w.turns, w.cost_usd, w.last_event_seq, w.current_action, t.title, t.status AS ts FROM workers w JOIN tasks t ON t.id = w.task_id ORDER BY w.created_at`,
          ),
          null,
          1,
        ),
      );
    expect(maxLive).toBe(2);

    for (const [index, id] of ids.entries()) {
      const task = (await admin.get(`/api/tasks/${id}`)).body;
      expect(task.status).toBe('completed');
      const origin =
        origins[task.workspaceId === (await admin.get('/api/workspaces/beta')).body.id ? 'beta' : 'alpha']!;
      expect(origin.hasBranch(task.result.branch)).toBe(true);
      expect(origin.readFile(task.result.branch, `f${index + 1}.txt`).trim()).toBe(
        `made for f${index + 1}.txt`,
      );
      expect(task.result.commitSha).toMatch(/^[0-9a-f]{40}$/);
      expect(task.result.filesChanged).toBe(1);
      expect(task.costUsd).toBeCloseTo(costPerTask, 9);
      expect(task.workers[0]).toMatchObject({ authType: 'api', inputTokens: 3000, outputTokens: 300 });
    }
    const day = await server.db.query<{ cost_usd: number }>(
      'SELECT cost_usd FROM usage_days WHERE account_id = $1',
      [svc.id],
    );
    expect(day[0]?.cost_usd).toBeCloseTo(5 * costPerTask, 9);
    expect((await admin.get(`/api/tasks/${outside.body.id}`)).body.status).toBe('pending');
  }, 330_000);
});

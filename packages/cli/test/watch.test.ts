/**
 * Following tasks that a real agent runs: the real buildd server, an in-process agent running the real
 * Claude Agent SDK against the scripted fake Messages API, and `buildd` as real processes.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningAgent } from '../../agent/src/agent.ts';
import type { FakeAnthropic } from '../../agent/test/support/fake-anthropic.ts';
import { apiClient } from '../../server/test/support/api.ts';
import { testEngines } from '../../server/test/support/engines.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { startFakeModel, startTestAgent } from './support/agent.ts';
import { cliHome, cliJson, runCli, startCli } from './support/cli.ts';

vi.setConfig({ testTimeout: 240_000 });

describe.each(await testEngines())('following tasks a real agent runs, on %s', (engine) => {
  let t: TestServer;
  let model: FakeAnthropic;
  let agent: RunningAgent | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    t = await startTestServer({ engine, leaseSeconds: 20, renewSeconds: 2 });
    expect((await apiClient(t.url, t.adminKey).post('/api/workspaces', { name: 'cli-e2e' })).status).toBe(
      201,
    );
    model = await startFakeModel();
    env = { ...cliHome().env, BUILDD_SERVER: t.url, BUILDD_API_KEY: t.adminKey };
  });
  afterAll(async () => {
    await agent?.stop();
    await model?.close();
    await t?.close();
  });

  it('watch and logs -f follow a task from pending until the agent completes it', async () => {
    const task = await cliJson(['task', 'create', '-w', 'cli-e2e', 'Write hello.txt'], env);
    // Followers start before any agent exists: they must wait through pending, assigned and running.
    const logs = startCli(['task', 'logs', '-f', task.id], env);
    const watchJson = startCli(['--json', 'task', 'watch', task.id], env);
    const watch = startCli(['task', 'watch', task.id], env);
    while (!watch.stdout().includes('pending')) await new Promise((r) => setTimeout(r, 50));
    agent = startTestAgent(t.url, t.adminKey, model);
    const [l, j, w] = await Promise.all([logs.done, watchJson.done, watch.done]);

    expect(j.code).toBe(0);
    const final = JSON.parse(j.stdout);
    expect(final).toMatchObject({
      id: task.id,
      status: 'completed',
      result: { summary: 'Wrote hello.txt.' },
    });
    expect(final.workers[0]).toMatchObject({ status: 'completed', turns: 2 });
    expect(final.costUsd).toBeGreaterThan(0);

    expect(w.code).toBe(0);
    // One progress line per change of state or action (stdout is a pipe), then the outcome.
    expect(w.stdout).toMatch(new RegExp(`^${task.id}  pending`, 'm'));
    expect(w.stdout).toMatch(new RegExp(`^${task.id}  running  Write hello.txt`, 'm'));
    expect(w.stdout).toMatch(new RegExp(`^Task ${task.id} completed after \\d+`, 'm'));
    expect(w.stdout).toContain('  Wrote hello.txt.');
    expect(w.stdout).toMatch(/cost \$0\.\d{4}, attempt 1 of 3/);

    expect(l.code).toBe(0);
    const lines = l.stdout.split('\n');
    const at = (re: RegExp) => lines.findIndex((line) => re.test(line));
    expect(at(/^── worker /)).toBe(0);
    expect(at(/^\d\d:\d\d:\d\d → Write hello\.txt$/)).toBeGreaterThan(0);
    expect(at(/^\d\d:\d\d:\d\d ← /)).toBeGreaterThan(at(/→ Write hello\.txt/));
    expect(at(/^\d\d:\d\d:\d\d Wrote hello\.txt\.$/)).toBeGreaterThan(at(/^\d\d:\d\d:\d\d ← /));
    expect(at(/· 2 turns, 2,000 in \/ 150 out tokens/)).toBeGreaterThan(0);
    expect(lines.at(-2)).toBe('── task completed');

    // Without -f, logs prints what is there; --json gives one event per line, in order.
    const ndjson = await runCli(['--json', 'task', 'logs', task.id], env);
    const events = ndjson.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['status', 'tool_use', 'tool_result', 'assistant_text']),
    );
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => a - b));
    const tail = await runCli(['--json', 'task', 'logs', task.id, '--after', String(events.at(-2).id)], env);
    expect(tail.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('create --wait exits 0 with the result, and 10 when the run fails', async () => {
    const ok = await runCli(
      ['--json', 'task', 'create', '-w', 'cli-e2e', '--wait', 'Write hello.txt again'],
      env,
    );
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      status: 'completed',
      result: { summary: 'Wrote hello.txt.' },
    });

    const failed = await runCli(
      ['task', 'create', '-w', 'cli-e2e', '--max-turns', '1', '--wait', 'LOOP-FOREVER: run tools'],
      env,
    );
    expect(failed.code).toBe(10);
    expect(failed.stderr).toMatch(/^Created task \S+; following it\.$/m);
    expect(failed.stdout).toMatch(/^Task \S+ failed/m);
    expect(failed.stdout).toMatch(/error: .*\(max_turns\)/);
  });

  it('status and agents show the agent online', async () => {
    const agents = await cliJson(['agents'], env);
    expect(agents.items).toEqual([expect.objectContaining({ name: 'test-agent', online: true })]);
    const table = await runCli(['agents'], env);
    expect(table.stdout).toMatch(/^test-agent\s+online\s/m);
    const status = await runCli(['status'], env);
    expect(status.stdout).toMatch(/Agents\s+1 online: test-agent/);
  });
});

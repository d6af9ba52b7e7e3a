/**
 * runTask outcomes that need no repository: errors of the model API, the credential type, scratch
 * runs and the guard. The real SDK runs against the fake Messages API on 127.0.0.1.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTask } from '../src/run/run-task.ts';
import { httpError, primaryDirectory, text, write } from './support/fake-anthropic.ts';
import { makeContext, makeWorker, useRunFixtures } from './support/run-fixtures.ts';

const box = useRunFixtures();
const setup = box.start;

describe('runTask errors from the model API', () => {
  it('maps a 500 to failed/api_error with the API message', async () => {
    const { dataDir, claudeEnv } = await setup([httpError(500, 'Internal server error')]);
    const outcome = await runTask(
      makeWorker({ workspace: { repoUrl: box.origin.url } }),
      makeContext({ dataDir, claudeEnv }),
    );
    expect(outcome).toMatchObject({ status: 'failed', exitCause: 'api_error' });
    expect(outcome.error).toMatch(/500 Internal server error/);
  });

  it('maps a 401 to failed/auth', async () => {
    const { dataDir, claudeEnv } = await setup([httpError(401, 'invalid x-api-key')]);
    const outcome = await runTask(makeWorker(), makeContext({ dataDir, claudeEnv }));
    expect(outcome).toMatchObject({ status: 'failed', exitCause: 'auth' });
    expect(outcome.error).toMatch(/API key/i);
  });

  it('maps a missing credential ("Not logged in") to failed/auth without any request', async () => {
    const { fake, dataDir, claudeEnv } = await setup([text('never asked')]);
    const { ANTHROPIC_API_KEY: _key, ...withoutKey } = claudeEnv;
    const outcome = await runTask(makeWorker(), makeContext({ dataDir, claudeEnv: withoutKey }));
    expect(outcome).toMatchObject({ status: 'failed', exitCause: 'auth' });
    expect(outcome.error).toMatch(/log/i);
    expect(fake.requests).toHaveLength(0);
  });

  it('stops at the task budget as failed/budget', async () => {
    const usage = { input_tokens: 10_000, output_tokens: 1_000 }; // $0.045 per response
    const { fake, dataDir, claudeEnv } = await setup([
      write('a.txt', 'x\n', { usage }),
      write('b.txt', 'y\n', { usage }),
      text('done', { usage }),
    ]);
    const outcome = await runTask(
      makeWorker({ task: { budgetUsd: 0.01 } }),
      makeContext({ dataDir, claudeEnv }),
    );
    expect(outcome).toMatchObject({ status: 'failed', exitCause: 'budget' });
    expect(outcome.error).toMatch(/budget of \$0.01/);
    expect(outcome.costUsd).toBeGreaterThan(0.01);
    expect(fake.requests.length).toBeLessThan(3);
  });

  it('sends an OAuth token as a bearer token, not as an API key', async () => {
    const { fake, dataDir, claudeEnv } = await setup([text('hi')], { oauthToken: 'sk-ant-oat01-test-token' });
    const outcome = await runTask(makeWorker(), makeContext({ dataDir, claudeEnv }));
    expect(outcome.status).toBe('completed');
    expect(fake.requests.map((r) => r.auth)).toEqual(['bearer']);
    expect(fake.requests[0]?.headers.authorization).toBe('Bearer sk-ant-oat01-test-token');
  });
});

describe('runTask without a repository', () => {
  it('runs in a scratch directory and reports no git result', async () => {
    const { fake, dataDir, claudeEnv } = await setup([write('notes.txt', 'scratch\n'), text('noted')]);
    const worker = makeWorker();
    const outcome = await runTask(worker, makeContext({ dataDir, claudeEnv }));
    expect(outcome).toMatchObject({ status: 'completed', summary: 'noted' });
    expect(outcome.commitSha).toBeUndefined();
    expect(outcome.filesChanged).toBeUndefined();
    expect(primaryDirectory(fake.requests[0]?.body ?? {})).toBe(join(dataDir, 'scratch', worker.id));
    expect(existsSync(join(dataDir, 'scratch', worker.id))).toBe(false);
  });

  it('lets the guard deny a Write outside the working directory', async () => {
    const outside = join(box.root, 'outside.txt');
    const { fake, dataDir, claudeEnv } = await setup([write(outside, 'escaped\n'), text('gave up')]);
    const ctx = makeContext({ dataDir, claudeEnv });
    const outcome = await runTask(makeWorker(), ctx);
    expect(outcome.status).toBe('completed');
    expect(existsSync(outside)).toBe(false);
    expect(ctx.events('tool_result')[0]).toMatchObject({ isError: true });
    expect(String(ctx.events('tool_result')[0]?.content)).toMatch(/outside the task's working directory/);
    expect(JSON.stringify(fake.requests[1]?.body)).toMatch(/outside the task's working directory/);
  });
});

/**
 * runTask end to end: the real Claude Agent SDK (its bundled Claude Code binary) against the fake
 * Messages API on 127.0.0.1, real git against a local bare origin.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTask } from '../src/run.ts';
import {
  bash,
  edit,
  type FakeAnthropic,
  httpError,
  primaryDirectory,
  read,
  type Step,
  startFakeAnthropic,
  text,
  write,
} from './support/fake-anthropic.ts';
import { gitSync, makeOrigin, type Origin, tempDir } from './support/git-fixtures.ts';
import { claudeEnvFor, makeContext, makeWorker } from './support/run-fixtures.ts';

const apiKey = 'sk-ant-test-0123456789abcdef';
const bulky = { input_tokens: 1_000, output_tokens: 200 };
// claude-sonnet-4-5 list price: $3 per million input tokens, $15 per million output tokens.
const sonnetCost = (input: number, output: number) => (input * 3 + output * 15) / 1_000_000;

let root: string;
let origin: Origin;
let fake: FakeAnthropic | null = null;

beforeEach(() => {
  root = tempDir('buildd-run-');
  origin = makeOrigin(root, { files: { 'README.md': '# fixture\nsecond line\n' } });
});

afterEach(async () => {
  await fake?.close();
  fake = null;
  rmSync(root, { recursive: true, force: true });
});

async function setup(script: Step[]) {
  fake = await startFakeAnthropic({ script });
  const dataDir = join(root, 'data');
  const claudeEnv = claudeEnvFor(join(root, 'home'), fake.url, { apiKey });
  return { fake, dataDir, claudeEnv };
}

describe('runTask with a repository', () => {
  it('writes and edits files, commits and pushes the branch, and reports exact cost', async () => {
    const { fake, dataDir, claudeEnv } = await setup([
      write('hello.txt', 'hello\nworld\n', { usage: bulky }),
      read('README.md', { usage: bulky }),
      edit('README.md', 'second line', 'second line, edited', { usage: bulky }),
      text('Wrote hello.txt and edited the README.', { usage: bulky }),
    ]);
    process.env.BUILDD_API_KEY = 'buildd_svc_never_leaves_the_agent_0123456789';
    const worker = makeWorker({ workspace: { repoUrl: origin.url } });
    const ctx = makeContext({ dataDir, claudeEnv });
    const outcome = await runTask(worker, ctx);
    delete process.env.BUILDD_API_KEY;

    expect(outcome).toMatchObject({
      status: 'completed',
      exitCause: 'completed',
      summary: 'Wrote hello.txt and edited the README.',
      branch: worker.branch,
      filesChanged: 2,
      linesAdded: 3,
      linesRemoved: 1,
      inputTokens: 4_000,
      outputTokens: 800,
      turns: 4,
    });
    expect(outcome.costUsd).toBeCloseTo(sonnetCost(4_000, 800), 10);
    // The branch is in the origin with the run's files, committed by the agent's identity.
    expect(origin.readFile(worker.branch, 'hello.txt')).toBe('hello\nworld');
    expect(origin.readFile(worker.branch, 'README.md')).toContain('second line, edited');
    expect(gitSync(origin.url, ['rev-parse', worker.branch])).toBe(outcome.commitSha);
    expect(gitSync(origin.url, ['log', '-1', '--format=%an <%ae>', worker.branch])).toBe(
      'buildd agent <agent@buildd.local>',
    );
    // The worktree and the local branch are gone; the cached clone stays for the next task.
    expect(existsSync(join(dataDir, 'worktrees', worker.id))).toBe(false);
    const [cache] = readdirSync(join(dataDir, 'repos'));
    expect(gitSync(join(dataDir, 'repos', cache ?? ''), ['branch', '--list', worker.branch])).toBe('');
    // The live estimate of the cost matched the SDK's final figure before the result arrived.
    const live = ctx.recorded.flatMap((r) =>
      r.kind === 'progress' && r.data.costUsd ? [r.data.costUsd] : [],
    );
    expect(live.at(-1)).toBeCloseTo(outcome.costUsd, 10);
    expect(ctx.events('tool_use').map((e) => e.name)).toEqual(['Write', 'Read', 'Edit']);
    expect(ctx.events('git')[0]).toMatchObject({ pushed: true, filesChanged: 2 });
    // Only the Claude credential reached the model API, as an API key; never the buildd key.
    expect(fake.requests.every((r) => r.auth === 'x-api-key')).toBe(true);
    expect(fake.credentialsSeen()).toEqual([apiKey]);
    expect(JSON.stringify(fake.requests)).not.toContain('buildd_svc_');
  });

  it('keeps commits the model made itself and commits what it left on top', async () => {
    const { dataDir, claudeEnv } = await setup([
      write('a.txt', 'from the model\n'),
      bash('git add a.txt && git commit -q -m "model commit"'),
      text('done'),
    ]);
    const worker = makeWorker({ workspace: { repoUrl: origin.url } });
    const outcome = await runTask(worker, makeContext({ dataDir, claudeEnv }));
    expect(outcome).toMatchObject({ status: 'completed', filesChanged: 1, linesAdded: 1, linesRemoved: 0 });
    expect(gitSync(origin.url, ['log', '--format=%s', `${origin.defaultBranch}..${worker.branch}`])).toBe(
      'model commit',
    );
    expect(outcome.commitSha).toBe(gitSync(origin.url, ['rev-parse', worker.branch]));
  });

  it('runs two tasks of one workspace at once on one cached clone', async () => {
    const { dataDir, claudeEnv } = await setup([]);
    await fake?.close();
    fake = await startFakeAnthropic({
      scriptFor: (_session, first) => {
        const name = JSON.stringify(first).includes('first task') ? 'one.txt' : 'two.txt';
        return [write(name, `${name}\n`), text(`wrote ${name}`)];
      },
    });
    const env = { ...claudeEnv, ANTHROPIC_BASE_URL: fake.url };
    const one = makeWorker({ workspace: { repoUrl: origin.url }, task: { prompt: 'the first task' } });
    const two = makeWorker({ workspace: { repoUrl: origin.url }, task: { prompt: 'the second task' } });
    const [a, b] = await Promise.all([
      runTask(one, makeContext({ dataDir, claudeEnv: env })),
      runTask(two, makeContext({ dataDir, claudeEnv: env })),
    ]);
    expect([a?.status, b?.status]).toEqual(['completed', 'completed']);
    expect(origin.readFile(one.branch, 'one.txt')).toBe('one.txt');
    expect(origin.readFile(two.branch, 'two.txt')).toBe('two.txt');
    expect(readdirSync(join(dataDir, 'repos'))).toHaveLength(1);
  });

  it('stops at maxTurns as failed/max_turns and pushes nothing', async () => {
    const { dataDir, claudeEnv } = await setup([write('a.txt', 'x\n'), write('b.txt', 'y\n'), text('done')]);
    const worker = makeWorker({ workspace: { repoUrl: origin.url }, task: { maxTurns: 1 } });
    const outcome = await runTask(worker, makeContext({ dataDir, claudeEnv }));
    expect(outcome).toMatchObject({ status: 'failed', exitCause: 'max_turns' });
    expect(outcome.error).toMatch(/limit of 1 turns/);
    expect(origin.hasBranch(worker.branch)).toBe(false);
    expect(existsSync(join(dataDir, 'worktrees', worker.id))).toBe(false);
  });

  it('fails with exitCause git and a readable error when the repository cannot be cloned', async () => {
    const { fake, dataDir, claudeEnv } = await setup([text('never asked')]);
    const worker = makeWorker({ workspace: { repoUrl: join(root, 'missing.git') } });
    const outcome = await runTask(worker, makeContext({ dataDir, claudeEnv }));
    expect(outcome).toMatchObject({ status: 'failed', exitCause: 'git', costUsd: 0 });
    expect(outcome.error).toMatch(/git clone .*failed/);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('runTask errors from the model API', () => {
  it('maps a 500 to failed/api_error with the API message', async () => {
    const { dataDir, claudeEnv } = await setup([httpError(500, 'Internal server error')]);
    const outcome = await runTask(
      makeWorker({ workspace: { repoUrl: origin.url } }),
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

  it('sends an OAuth token as a bearer token, not as an API key', async () => {
    const { fake, dataDir } = await setup([text('hi')]);
    const claudeEnv = claudeEnvFor(join(root, 'home'), fake.url, { oauthToken: 'sk-ant-oat01-test-token' });
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
    const outside = join(root, 'outside.txt');
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

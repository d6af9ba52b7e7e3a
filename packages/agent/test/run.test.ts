/**
 * runTask end to end with a repository: the real Claude Agent SDK (its bundled Claude Code binary)
 * against the fake Messages API on 127.0.0.1, real git against a local bare origin.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTask } from '../src/run/run-task.ts';
import { bash, edit, read, text, write } from './support/fake-anthropic.ts';
import { gitSync } from './support/git-fixtures.ts';
import { makeContext, makeWorker, testApiKey, useRunFixtures } from './support/run-fixtures.ts';

const bulky = { input_tokens: 1_000, output_tokens: 200 };
// claude-sonnet-4-5 list price: $3 per million input tokens, $15 per million output tokens.
const sonnetCost = (input: number, output: number) => (input * 3 + output * 15) / 1_000_000;

const box = useRunFixtures({ 'README.md': '# fixture\nsecond line\n' });
const setup = box.start;

describe('runTask with a repository', () => {
  it('writes and edits files, commits and pushes the branch, and reports exact cost', async () => {
    const { fake, dataDir, claudeEnv } = await setup([
      write('hello.txt', 'hello\nworld\n', { usage: bulky }),
      read('README.md', { usage: bulky }),
      edit('README.md', 'second line', 'second line, edited', { usage: bulky }),
      text('Wrote hello.txt and edited the README.', { usage: bulky }),
    ]);
    process.env.BUILDD_API_KEY = 'buildd_svc_never_leaves_the_agent_0123456789';
    const worker = makeWorker({ workspace: { repoUrl: box.origin.url } });
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
    expect(box.origin.readFile(worker.branch, 'hello.txt')).toBe('hello\nworld');
    expect(box.origin.readFile(worker.branch, 'README.md')).toContain('second line, edited');
    expect(gitSync(box.origin.url, ['rev-parse', worker.branch])).toBe(outcome.commitSha);
    expect(gitSync(box.origin.url, ['log', '-1', '--format=%an <%ae>', worker.branch])).toBe(
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
    expect(fake.credentialsSeen()).toEqual([testApiKey]);
    expect(JSON.stringify(fake.requests)).not.toContain('buildd_svc_');
  });

  it('keeps commits the model made itself and commits what it left on top', async () => {
    const { dataDir, claudeEnv } = await setup([
      write('a.txt', 'from the model\n'),
      bash('git add a.txt && git commit -q -m "model commit"'),
      text('done'),
    ]);
    const worker = makeWorker({ workspace: { repoUrl: box.origin.url } });
    const outcome = await runTask(worker, makeContext({ dataDir, claudeEnv }));
    expect(outcome).toMatchObject({ status: 'completed', filesChanged: 1, linesAdded: 1, linesRemoved: 0 });
    expect(
      gitSync(box.origin.url, ['log', '--format=%s', `${box.origin.defaultBranch}..${worker.branch}`]),
    ).toBe('model commit');
    expect(outcome.commitSha).toBe(gitSync(box.origin.url, ['rev-parse', worker.branch]));
  });

  it('runs two tasks of one workspace at once on one cached clone', async () => {
    const { dataDir, claudeEnv } = await setup({
      scriptFor: (_session, first) => {
        const name = JSON.stringify(first).includes('first task') ? 'one.txt' : 'two.txt';
        return [write(name, `${name}\n`), text(`wrote ${name}`)];
      },
    });
    const one = makeWorker({ workspace: { repoUrl: box.origin.url }, task: { prompt: 'the first task' } });
    const two = makeWorker({ workspace: { repoUrl: box.origin.url }, task: { prompt: 'the second task' } });
    const [a, b] = await Promise.all([
      runTask(one, makeContext({ dataDir, claudeEnv })),
      runTask(two, makeContext({ dataDir, claudeEnv })),
    ]);
    expect([a?.status, b?.status]).toEqual(['completed', 'completed']);
    expect(box.origin.readFile(one.branch, 'one.txt')).toBe('one.txt');
    expect(box.origin.readFile(two.branch, 'two.txt')).toBe('two.txt');
    expect(readdirSync(join(dataDir, 'repos'))).toHaveLength(1);
  });

  it('continues a branch an earlier attempt pushed, fetching into the same cache', async () => {
    const { dataDir, claudeEnv } = await setup({
      scriptFor: (_session, first) => {
        const name = JSON.stringify(first).includes('attempt one') ? 'one.txt' : 'two.txt';
        return [write(name, 'x\n'), text('ok')];
      },
    });
    const first = makeWorker({ workspace: { repoUrl: box.origin.url }, task: { prompt: 'attempt one' } });
    expect((await runTask(first, makeContext({ dataDir, claudeEnv }))).status).toBe('completed');
    const cache = join(dataDir, 'repos', readdirSync(join(dataDir, 'repos'))[0] ?? '');
    gitSync(cache, ['config', 'buildd.test-marker', 'same-cache']);
    const second = makeWorker({ workspace: { repoUrl: box.origin.url }, branch: first.branch });
    const outcome = await runTask(second, makeContext({ dataDir, claudeEnv }));
    expect(outcome).toMatchObject({ status: 'completed', filesChanged: 2, linesAdded: 2 });
    expect(box.origin.readFile(first.branch, 'one.txt')).toBe('x');
    expect(box.origin.readFile(first.branch, 'two.txt')).toBe('x');
    expect(gitSync(cache, ['config', 'buildd.test-marker'])).toBe('same-cache');
  });

  it('keeps the branch in the cache and pushes nothing when the workspace says push: false', async () => {
    const { dataDir, claudeEnv } = await setup([write('a.txt', 'x\n'), text('done')]);
    const ctx = makeContext({ dataDir, claudeEnv });
    const worker = makeWorker({ workspace: { repoUrl: box.origin.url, config: { push: false } } });
    const outcome = await runTask(worker, ctx);
    expect(outcome).toMatchObject({ status: 'completed', filesChanged: 1 });
    expect(box.origin.hasBranch(worker.branch)).toBe(false);
    const keptIn = String(ctx.events('git')[0]?.keptIn);
    expect(gitSync(keptIn, ['rev-parse', worker.branch])).toBe(outcome.commitSha);
  });

  it('stops at maxTurns as failed/max_turns and pushes nothing', async () => {
    const { dataDir, claudeEnv } = await setup([write('a.txt', 'x\n'), write('b.txt', 'y\n'), text('done')]);
    const worker = makeWorker({ workspace: { repoUrl: box.origin.url }, task: { maxTurns: 1 } });
    const outcome = await runTask(worker, makeContext({ dataDir, claudeEnv }));
    expect(outcome).toMatchObject({ status: 'failed', exitCause: 'max_turns' });
    expect(outcome.error).toMatch(/limit of 1 turns/);
    expect(box.origin.hasBranch(worker.branch)).toBe(false);
    expect(existsSync(join(dataDir, 'worktrees', worker.id))).toBe(false);
  });

  it('fails with exitCause git and a readable error when the repository cannot be cloned', async () => {
    const { fake, dataDir, claudeEnv } = await setup([text('never asked')]);
    const worker = makeWorker({ workspace: { repoUrl: join(box.root, 'missing.git') } });
    const outcome = await runTask(worker, makeContext({ dataDir, claudeEnv }));
    expect(outcome).toMatchObject({ status: 'failed', exitCause: 'git', costUsd: 0 });
    expect(outcome.error).toMatch(/git clone .*failed/);
    expect(fake.requests).toHaveLength(0);
  });
});

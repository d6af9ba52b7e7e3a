/**
 * The spare worktree: a task's checkout made from it must be exactly what `git worktree add -B` gives,
 * and a spare anyone touched is never handed out. Real git repositories, no SDK.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { Workspace } from '@buildd/protocol';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Checkout, cacheName, prepareCheckout, removeCheckout } from '../src/run/git.ts';
import { sandboxSettings } from '../src/run/sandbox.ts';
import { sparePath, spareRefillsSettled } from '../src/run/worktree.ts';
import { gitSync, makeOrigin, tempDir } from './support/git-fixtures.ts';

const root = tempDir('buildd-spare-');
const origin = makeOrigin(root, { files: { '.gitignore': 'build/\n' }, count: 40 });
afterEach(() => spareRefillsSettled());
afterAll(() => rmSync(root, { recursive: true, force: true }));

const workspace: Workspace = {
  id: 'ws-1',
  name: 'w',
  repoUrl: origin.url,
  defaultBranch: 'main',
  access: 'open',
  maxRunningTasks: null,
  config: {},
  createdAt: new Date(0).toISOString(),
};

let dirs = 0;
const newDataDir = () => join(root, `data-${++dirs}`);
const spareOf = (dataDir: string) => sparePath(dataDir, join(dataDir, 'repos', cacheName(origin.url)));
const prepare = (dataDir: string, workerId: string, branch = `buildd/${workerId}`) =>
  prepareCheckout({ dataDir, workerId, workspace, branch });
/** Whether the checkout was made from the spare: a moved worktree keeps the spare's admin dir. */
const fromSpare = (checkout: Checkout) => basename(checkout.repo?.adminDir ?? '').includes('spare');

/** A data dir whose cache has a spare: one task prepared and removed, and the refill done. */
async function withSpare(): Promise<string> {
  const dataDir = newDataDir();
  await removeCheckout(await prepare(dataDir, 'wrk-first'));
  await spareRefillsSettled();
  expect(existsSync(spareOf(dataDir))).toBe(true);
  return dataDir;
}

function filesOnDisk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .filter((path) => path !== '.git')
    .sort();
}

/** The checkout is what `worktree add -B <branch> <dir> <sha>` makes: branch, HEAD, files, clean status. */
function expectExactCheckout(checkout: Checkout, sha: string): void {
  const { dir, branch } = checkout;
  expect(gitSync(dir, ['symbolic-ref', 'HEAD'])).toBe(`refs/heads/${branch}`);
  expect(gitSync(dir, ['rev-parse', 'HEAD'])).toBe(sha);
  expect(gitSync(dir, ['status', '--porcelain', '--ignored', '--untracked-files=all'])).toBe('');
  const tracked = gitSync(origin.url, ['ls-tree', '-r', '--name-only', sha]).split('\n').sort();
  expect(filesOnDisk(dir)).toEqual(tracked);
  for (const path of tracked) {
    expect(readFileSync(join(dir, path), 'utf8')).toBe(
      `${gitSync(origin.url, ['show', `${sha}:${path}`])}\n`,
    );
  }
}

/** Pushes a branch to the origin with one file changed, one added and one deleted; returns its tip. */
function pushBranch(branch: string): string {
  const clone = tempDir('buildd-spare-clone-');
  gitSync(clone, ['clone', '--quiet', origin.url, '.']);
  gitSync(clone, ['checkout', '--quiet', '-b', branch]);
  writeFileSync(join(clone, 'README.md'), '# changed by an earlier attempt\n');
  writeFileSync(join(clone, 'src', 'added.txt'), 'added\n');
  rmSync(join(clone, 'src', 'file-3.txt'));
  gitSync(clone, ['add', '-A']);
  gitSync(clone, ['commit', '--quiet', '-m', 'earlier attempt']);
  gitSync(clone, ['push', '--quiet', 'origin', branch]);
  const sha = gitSync(clone, ['rev-parse', 'HEAD']);
  rmSync(clone, { recursive: true, force: true });
  return sha;
}

describe('spare worktree', () => {
  it('is made after a task and handed to the next one as its exact checkout', async () => {
    const dataDir = await withSpare();
    const checkout = await prepare(dataDir, 'wrk-second');
    expect(fromSpare(checkout)).toBe(true);
    expect(checkout.dir).toBe(join(dataDir, 'worktrees', 'wrk-second'));
    expectExactCheckout(checkout, origin.baseSha);
    // Removing the task's checkout leaves the refilled spare alone, and it is usable again.
    await spareRefillsSettled();
    await removeCheckout(checkout);
    expect(existsSync(checkout.dir)).toBe(false);
    const third = await prepare(dataDir, 'wrk-third');
    expect(fromSpare(third)).toBe(true);
    expectExactCheckout(third, origin.baseSha);
    await removeCheckout(third);
  });

  it('continues a branch an earlier attempt pushed', async () => {
    const dataDir = await withSpare();
    const tip = pushBranch('buildd/continued');
    const checkout = await prepare(dataDir, 'wrk-continue', 'buildd/continued');
    expect(fromSpare(checkout)).toBe(true);
    expectExactCheckout(checkout, tip);
    expect(existsSync(join(checkout.dir, 'src', 'file-3.txt'))).toBe(false);
    expect(checkout.repo?.baseSha).toBe(origin.baseSha);
    await removeCheckout(checkout);
  });

  it.each([
    ['an extra file', (spare: string) => writeFileSync(join(spare, 'planted.txt'), 'x\n')],
    ['an ignored file', (spare: string) => writeFileSync(join(spare, 'build'), 'x\n')],
    ['a modified tracked file', (spare: string) => writeFileSync(join(spare, 'README.md'), 'planted\n')],
    ['no .git file (half made when the agent died)', (spare: string) => rmSync(join(spare, '.git'))],
    ['a broken .git file', (spare: string) => writeFileSync(join(spare, '.git'), 'gitdir: /nowhere\n')],
    [
      'a .git file of another repository',
      (spare: string) => writeFileSync(join(spare, '.git'), `gitdir: ${origin.url}\n`),
    ],
    ['a checked-out branch', (spare: string) => gitSync(spare, ['checkout', '--quiet', '-b', 'planted'])],
  ])('with %s is not handed out, and the task still gets its exact checkout', async (_what, spoil) => {
    const dataDir = await withSpare();
    spoil(spareOf(dataDir));
    const checkout = await prepare(dataDir, 'wrk-after-spoil');
    expect(fromSpare(checkout)).toBe(false);
    expectExactCheckout(checkout, origin.baseSha);
    await spareRefillsSettled();
    // The refill made a fresh spare in place of the spoilt one.
    const next = await prepare(dataDir, 'wrk-next');
    expect(fromSpare(next)).toBe(true);
    expectExactCheckout(next, origin.baseSha);
    await removeCheckout(checkout);
    await removeCheckout(next);
  });

  it('gives two concurrent tasks on one repository their exact checkouts, one of them from the spare', async () => {
    const dataDir = await withSpare();
    const both = await Promise.all([prepare(dataDir, 'wrk-a'), prepare(dataDir, 'wrk-b')]);
    expect(both.filter(fromSpare)).toHaveLength(1);
    for (const checkout of both) expectExactCheckout(checkout, origin.baseSha);
    await Promise.all(both.map((checkout) => removeCheckout(checkout)));
  });

  it('lets the sandbox write to the admin dir of a checkout made from the spare', async () => {
    const dataDir = await withSpare();
    const checkout = await prepare(dataDir, 'wrk-sandboxed');
    const settings = sandboxSettings(
      { deniedEnvVars: [], deniedReadPaths: [] },
      {
        worktree: checkout.dir,
        cacheDir: checkout.repo?.cacheDir ?? null,
        adminDir: checkout.repo?.adminDir ?? null,
        home: root,
        workspace: {},
      },
    );
    const admin = gitSync(checkout.dir, ['rev-parse', '--absolute-git-dir']);
    expect(settings.filesystem?.allowWrite).toContain(admin);
    await removeCheckout(checkout);
  });
});

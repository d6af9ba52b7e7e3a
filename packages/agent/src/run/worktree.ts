/**
 * Worktrees of a cached clone: adding a task's checkout, dropping it, and the spare that makes adding
 * cheap.
 *
 * Writing a checkout's files is most of a task's start outside the model (a 1,000-file worktree costs
 * hundreds of ms of kernel time on a slow disk). So each cached clone keeps one *spare* worktree,
 * `<dataDir>/worktrees/.spare-<cacheName>`, detached at `origin/<defaultBranch>` and made in the
 * background after a task took the previous one. A task moves the spare to its own path (`git worktree
 * move`: a rename plus two small files) and checks its branch out there, which writes only the files
 * that differ from the default branch.
 *
 * What keeps this safe:
 * - Only a spare no task ever ran in is handed out: a task's directory is always dropped after its
 *   run, never turned back into a spare (a task could leave files, hooks or a rewritten `.git` behind).
 * - A spare is checked before it is handed out (registered in this cache, its `.git` file pointing at
 *   its own admin dir there, detached, clean with ignored files counted); anything off and it is
 *   dropped and the task gets a fresh `worktree add`, so a spare half-made when the agent died is
 *   found and dropped the next time.
 * - Taking, refilling and dropping all run under the clone's lock, so `git worktree prune` (in
 *   dropWorktree) never sees a spare half-moved or half-made.
 */
import { mkdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { git, withRepoLock } from './git-command.ts';

/** Where a cache's spare worktree lives. */
export function sparePath(dataDir: string, cacheDir: string): string {
  return join(dataDir, 'worktrees', `.spare-${basename(cacheDir)}`);
}

/** Gives up on a refill that takes longer (a huge repository on a busy disk): the next task refills. */
const refillTimeoutMs = 300_000;
const refills = new Map<string, Promise<void>>();
/**
 * Caches that get no more spares while this agent runs: git refused to move one (it does for a worktree
 * with submodules), or a fresh one was not clean (line-ending or case-collision quirks). Each task would
 * otherwise pay for dropping a spare it cannot use.
 */
const noSpares = new Set<string>();

/**
 * Turn the cache's spare into the checkout at `dir` on `branch` at `startSha`, as `git worktree add -B
 * <branch> <dir> <startSha>` would have made it. False when there is no usable spare (an unusable one
 * is dropped); then `dir` does not exist. The caller holds the cache's lock.
 */
export async function takeSpare(input: {
  cacheDir: string;
  spare: string;
  dir: string;
  branch: string;
  startSha: string;
  signal?: AbortSignal;
}): Promise<boolean> {
  const { cacheDir, spare, dir, branch, startSha, signal } = input;
  if (!(await exists(spare))) return false;
  if (!(await spareIsUsable(cacheDir, spare))) {
    await dropWorktree(cacheDir, spare, null);
    return false;
  }
  const opts = signal ? { signal } : {};
  try {
    await git(cacheDir, ['worktree', 'move', '--', spare, dir], opts);
  } catch (error) {
    if (!signal?.aborted) noSpares.add(cacheDir);
    await dropWorktree(cacheDir, spare, null);
    await dropWorktree(cacheDir, dir, null);
    if (signal?.aborted) throw error;
    return false;
  }
  try {
    // From the spare's detached HEAD: writes the files that differ, and makes (or resets) the branch.
    await git(dir, ['checkout', '--quiet', '-B', branch, startSha, '--'], opts);
  } catch (error) {
    await dropWorktree(cacheDir, dir, branch);
    if (signal?.aborted) throw error;
    return false;
  }
  return true;
}

/**
 * Whether the spare is one this agent made and no one touched: registered in this cache, detached,
 * its `.git` file and its admin dir pointing at each other, and nothing in it but the commit's files.
 */
async function spareIsUsable(cacheDir: string, spare: string): Promise<boolean> {
  const list = await git(cacheDir, ['worktree', 'list', '--porcelain']).catch(() => '');
  const real = await realpath(spare).catch(() => spare);
  const entry = list
    .split('\n\n')
    .map((block) => block.split('\n'))
    .find((lines) => lines[0] === `worktree ${spare}` || lines[0] === `worktree ${real}`);
  if (!entry?.includes('detached') || entry.some((line) => /^(locked|prunable)\b/.test(line))) return false;
  const adminDir = await adminDirOf(spare);
  const realCache = await realpath(cacheDir).catch(() => cacheDir);
  const inCache = [cacheDir, realCache].map((path) => join(path, '.git', 'worktrees'));
  if (!adminDir || !inCache.includes(dirname(adminDir))) return false;
  const back = (await readFile(join(adminDir, 'gitdir'), 'utf8').catch(() => '')).trim();
  if (back !== join(spare, '.git') && back !== join(real, '.git')) return false;
  // Only now may git run inside it: with a broken `.git` file git would look further up for a repository.
  const status = await git(spare, ['status', '--porcelain', '--ignored', '--untracked-files=all']).catch(
    () => null,
  );
  return status === '';
}

/** The admin dir in the cache that a worktree's `.git` file names, or null when it names none. */
export async function adminDirOf(dir: string): Promise<string | null> {
  const text = await readFile(join(dir, '.git'), 'utf8').catch(() => '');
  const match = /^gitdir: (\/.+)\n?$/.exec(text);
  return match?.[1] ?? null;
}

/**
 * Make the cache's spare in the background unless there is a usable one: never awaited by a run and
 * never failing one (a failure is logged at debug; the next task just adds its worktree). One refill at
 * a time per cache; `signal` (the agent stopping) and a timeout end it, and what it leaves half-made is
 * dropped here or by the next check.
 */
export function refillSpare(input: {
  dataDir: string;
  cacheDir: string;
  defaultBranch: string;
  signal?: AbortSignal;
  log?: (level: 'debug', message: string, fields?: Record<string, unknown>) => void;
}): void {
  const { dataDir, cacheDir, defaultBranch } = input;
  if (refills.has(cacheDir) || noSpares.has(cacheDir) || input.signal?.aborted) return;
  const timeout = AbortSignal.timeout(refillTimeoutMs);
  const signal = input.signal ? AbortSignal.any([input.signal, timeout]) : timeout;
  const spare = sparePath(dataDir, cacheDir);
  const refill = withRepoLock(cacheDir, async () => {
    if (signal.aborted) return;
    if (await exists(spare)) {
      if (await spareIsUsable(cacheDir, spare)) return;
      await dropWorktree(cacheDir, spare, null);
    }
    await mkdir(dirname(spare), { recursive: true });
    try {
      await git(
        cacheDir,
        ['worktree', 'add', '--quiet', '--detach', '--', spare, `origin/${defaultBranch}`],
        { signal },
      );
    } catch (error) {
      await dropWorktree(cacheDir, spare, null).catch(() => undefined);
      throw error;
    }
    if (!(await spareIsUsable(cacheDir, spare))) {
      noSpares.add(cacheDir);
      await dropWorktree(cacheDir, spare, null);
      throw new Error('a fresh spare worktree is not clean: no more spares for this repository');
    }
  })
    .catch((error: unknown) =>
      input.log?.('debug', 'could not make a spare worktree', { error: String(error) }),
    )
    .finally(() => refills.delete(cacheDir));
  refills.set(cacheDir, refill);
}

/** Settles when no refill is running (for tests, which must not leave git processes behind). */
export async function spareRefillsSettled(): Promise<void> {
  while (refills.size > 0) await Promise.all(refills.values());
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Unregister and delete the worktree at `dir` if there is one, and delete `branch` if it exists.
 * The usual case costs two git calls (each is a process start, a noticeable part of a task's overhead).
 */
export async function dropWorktree(cacheDir: string, dir: string, branch: string | null) {
  const removed =
    (await exists(dir)) &&
    (await git(cacheDir, ['worktree', 'remove', '--force', '--force', '--', dir]).then(
      () => true,
      () => false,
    ));
  if (!removed) {
    // Not a registered worktree, a half-made one, or one whose directory is gone: delete what is
    // there and let prune drop a registration that points nowhere.
    await rm(dir, { recursive: true, force: true });
    await git(cacheDir, ['worktree', 'prune']);
  }
  if (branch) {
    await git(cacheDir, ['branch', '-D', '--quiet', '--', branch]).catch(async (error: unknown) => {
      const present = await git(cacheDir, [
        'rev-parse',
        '--verify',
        '--quiet',
        '--end-of-options',
        `refs/heads/${branch}`,
      ]).then(
        () => true,
        () => false,
      );
      if (present) throw error;
    });
  }
}

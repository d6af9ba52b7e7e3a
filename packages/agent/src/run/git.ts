/**
 * Git worktree isolation for task runs, through the `git` CLI.
 *
 * Per repository the agent keeps one cached clone under `<dataDir>/repos/<name>`; it is cloned once
 * and only fetched afterwards. Each task gets its own worktree `<dataDir>/worktrees/<workerId>` on its
 * own branch from `origin/<defaultBranch>` (or from the branch an earlier attempt pushed), removed
 * after the run. Writing a worktree's files is the slow part of a start, so the clone keeps a spare
 * worktree made ahead of time, off the task's critical path (worktree.ts): a task takes it by moving
 * it and checking its branch out, and a refill in the background makes the next one. So a task starts
 * in the time of a fetch plus a checkout of what differs. A workspace without a repository runs in an
 * empty scratch directory instead.
 */
import { createHash } from 'node:crypto';
import { mkdir, realpath, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Workspace } from '@buildd/protocol';
import { GitError, git, withRepoLock } from './git-command.ts';
import { adminDirOf, dropWorktree, refillSpare, sparePath, takeSpare } from './worktree.ts';

export { agentIdentity, GitError, git, withRepoLock } from './git-command.ts';

/** Where a task runs. `repo` is null for a scratch directory (a workspace without a repository). */
export interface Checkout {
  dir: string;
  branch: string;
  /**
   * `adminDir`: the worktree's own dir inside the cache's `.git/worktrees`, named after the path the
   * worktree was made at (a taken spare keeps the spare's name).
   */
  repo: { cacheDir: string; baseSha: string; adminDir: string | null } | null;
}

/**
 * Checks a value before it becomes part of a path or a git argument: a worker id must look like an id
 * (no `/`, no `..`), a branch like a branch (no leading `-`, no `..`, nothing git would refuse).
 */
export function checkShape(kind: 'worker id' | 'branch', value: string): void {
  const ok =
    kind === 'worker id'
      ? /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/.test(value)
      : /^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$/.test(value) &&
        !/\.\.|\/\/|@\{|\.lock(\/|$)|\/$|\.$|(^|\/)\./.test(value);
  if (!ok)
    throw new GitError(
      `the server sent a ${kind} of an unexpected shape: ${JSON.stringify(value.slice(0, 200))}`,
    );
}

/** Directory name of a repository's cached clone: readable, and unique per URL. */
export function cacheName(repoUrl: string): string {
  const base =
    repoUrl
      .replace(/[/\\]+$/, '')
      .replace(/\.git$/, '')
      .split(/[/\\:]/)
      .pop() ?? 'repo';
  const safe = base.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60) || 'repo';
  return `${safe}-${createHash('sha256').update(repoUrl).digest('hex').slice(0, 10)}`;
}

/**
 * Prepare the task's checkout: fetch (or first clone) the cache, then take the spare worktree or add
 * one, on `branch`. Then refill the spare in the background; `refill.signal` (the agent stopping)
 * ends that refill, and its failures go to `refill.log` at debug.
 */
export async function prepareCheckout(input: {
  dataDir: string;
  workerId: string;
  workspace: Workspace;
  branch: string;
  signal?: AbortSignal;
  refill?: {
    signal?: AbortSignal;
    log?: (level: 'debug', msg: string, fields?: Record<string, unknown>) => void;
  };
}): Promise<Checkout> {
  const { dataDir, workerId, workspace, branch, signal } = input;
  checkShape('worker id', workerId);
  checkShape('branch', branch);
  checkShape('branch', workspace.defaultBranch);
  const opts = signal ? { signal } : {};
  if (!workspace.repoUrl) {
    const dir = join(dataDir, 'scratch', workerId);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return { dir, branch, repo: null };
  }
  const repoUrl = workspace.repoUrl;
  const cacheDir = join(dataDir, 'repos', cacheName(repoUrl));
  const dir = join(dataDir, 'worktrees', workerId);
  const checkout = await withRepoLock(cacheDir, async () => {
    const cloned = await ensureClone(repoUrl, cacheDir, opts);
    const mayHaveBranch = cloned || (await fetchBranches(cacheDir, workspace.defaultBranch, branch, opts));
    // Leftovers of a crashed run with the same worker id. A leftover branch needs no deleting:
    // `worktree add -B` resets it.
    await dropWorktree(cacheDir, dir, null);
    const baseSha = await commitOf(cacheDir, `origin/${workspace.defaultBranch}`);
    if (!baseSha) {
      throw new GitError(
        `branch ${workspace.defaultBranch} does not exist in ${repoUrl}: check the workspace's defaultBranch`,
      );
    }
    // A branch an earlier attempt already pushed is continued, so the final push fast-forwards.
    const startSha = (mayHaveBranch && (await commitOf(cacheDir, `origin/${branch}`))) || baseSha;
    await mkdir(join(dataDir, 'worktrees'), { recursive: true });
    const spare = sparePath(dataDir, cacheDir);
    if (!(await takeSpare({ cacheDir, spare, dir, branch, startSha, ...opts }))) {
      try {
        await git(cacheDir, ['worktree', 'add', '--quiet', '-B', branch, '--', dir, startSha], opts);
      } catch (error) {
        // An abort can stop git half-way: leave no registered worktree or stray branch behind.
        await dropWorktree(cacheDir, dir, branch).catch(() => undefined);
        throw error;
      }
    }
    return { dir, branch, repo: { cacheDir, baseSha, adminDir: await adminDirOf(dir) } };
  });
  refillSpare({ dataDir, cacheDir, defaultBranch: workspace.defaultBranch, ...input.refill });
  return checkout;
}

/**
 * Fetch the default branch and the task branch only, in ONE fetch (one round trip to a remote origin): a
 * repository that buildd works on gathers one branch per task, and fetching all of them would make every
 * task start slower than the last. The task branch goes in as a pattern, which matches nothing (and is no
 * error) when no earlier attempt pushed it; `--prune` drops a stale copy of it. It may also bring a few
 * branches whose names extend it, which nothing uses.
 */
async function fetchBranches(
  cacheDir: string,
  defaultBranch: string,
  branch: string,
  opts: { signal?: AbortSignal },
): Promise<boolean> {
  await git(
    cacheDir,
    [
      'fetch',
      '--quiet',
      '--prune',
      '--',
      'origin',
      `+refs/heads/${defaultBranch}:refs/remotes/origin/${defaultBranch}`,
      `+refs/heads/${branch}*:refs/remotes/origin/${branch}*`,
    ],
    { ...opts, timeoutMs: 600_000 },
  );
  return true;
}

/** The commit a ref points to, or '' when it does not exist. */
async function commitOf(cacheDir: string, ref: string): Promise<string> {
  const sha = await git(cacheDir, [
    'rev-parse',
    '--verify',
    '--quiet',
    '--end-of-options',
    `${ref}^{commit}`,
  ]).catch(() => '');
  return sha.trim();
}

/** Clone the cache unless a valid one exists; true when it was cloned just now. */
async function ensureClone(
  repoUrl: string,
  cacheDir: string,
  opts: { signal?: AbortSignal },
): Promise<boolean> {
  // Compare paths: a half-made directory inside some other repository would otherwise look valid.
  const gitDir = await git(cacheDir, ['rev-parse', '--absolute-git-dir']).catch(() => '');
  const real = await realpath(cacheDir).catch(() => cacheDir);
  const valid = gitDir.trim() === join(real, '.git');
  if (valid) return false;
  // Clone beside the final path and rename, so a crash mid-clone never leaves a half cache behind.
  const partial = `${cacheDir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await rm(cacheDir, { recursive: true, force: true });
  await mkdir(join(cacheDir, '..'), { recursive: true });
  // `--`: a repository URL such as `--upload-pack=…` must be a URL, never an option.
  await git(join(cacheDir, '..'), ['clone', '--quiet', '--no-checkout', '--', repoUrl, partial], {
    ...opts,
    timeoutMs: 1_800_000,
  });
  await rename(partial, cacheDir);
  return true;
}

/** What a run left on its branch, measured against the base it started from. */
export interface GitResult {
  commitSha: string | null;
  /** Commits on the branch since the base, the model's own included. */
  commits: number;
  filesChanged: number;
  linesAdded: number;
  linesRemoved: number;
}

/** Commit whatever the run left uncommitted, then measure the branch against its base. */
export async function commitAndMeasure(checkout: Checkout, message: string): Promise<GitResult | null> {
  if (!checkout.repo) return null;
  const { dir } = checkout;
  const { baseSha } = checkout.repo;
  await git(dir, ['add', '-A']);
  const staged = await git(dir, ['diff', '--cached', '--quiet']).then(
    () => false,
    () => true,
  );
  // --no-verify: repository hooks could wait for input or run for minutes in an unattended run.
  if (staged) await git(dir, ['commit', '--quiet', '--no-verify', '-m', message, '--']);
  // Every commit of the range is an ancestor of HEAD, so in topological order HEAD comes first
  // (one git call for the head and the count: each costs a process start).
  const branchCommits = (await git(dir, ['rev-list', '--topo-order', `${baseSha}..HEAD`, '--']))
    .split('\n')
    .filter(Boolean);
  const commits = branchCommits.length;
  let filesChanged = 0;
  let linesAdded = 0;
  let linesRemoved = 0;
  // Three dots: changes since the merge base, not the reverse of what the default branch gained since.
  for (const line of (await git(dir, ['diff', '--numstat', `${baseSha}...HEAD`, '--'])).split('\n')) {
    const [added, removed] = line.split('\t');
    if (added === undefined || removed === undefined) continue;
    filesChanged += 1;
    // Binary files show "-": they count as changed files without lines.
    linesAdded += Number(added) || 0;
    linesRemoved += Number(removed) || 0;
  }
  return { commitSha: branchCommits[0] ?? null, commits, filesChanged, linesAdded, linesRemoved };
}

/** Push the task branch to origin. */
export async function pushBranch(checkout: Checkout, signal?: AbortSignal): Promise<void> {
  const ref = `refs/heads/${checkout.branch}`;
  await git(checkout.dir, ['push', '--quiet', '--porcelain', '--', 'origin', `${ref}:${ref}`], {
    timeoutMs: 600_000,
    ...(signal ? { signal } : {}),
  });
}

/**
 * Remove the checkout. `keepBranch` leaves the branch in the cache (e.g. when a push failed, so the
 * commit can still be recovered by hand).
 */
export async function removeCheckout(checkout: Checkout, opts: { keepBranch?: boolean } = {}): Promise<void> {
  if (!checkout.repo) {
    await rm(checkout.dir, { recursive: true, force: true });
    return;
  }
  const { cacheDir } = checkout.repo;
  await withRepoLock(cacheDir, () =>
    dropWorktree(cacheDir, checkout.dir, opts.keepBranch ? null : checkout.branch),
  );
}

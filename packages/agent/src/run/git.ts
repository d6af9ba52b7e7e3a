/**
 * Git worktree isolation for task runs, through the `git` CLI.
 *
 * Per repository the agent keeps one cached clone under `<dataDir>/repos/<name>`; it is cloned once
 * and only fetched afterwards, so a task starts in the time of a fetch plus a checkout. Each task
 * gets its own worktree on its own branch from `origin/<defaultBranch>`, and the worktree is removed
 * after the run. A workspace without a repository runs in an empty scratch directory instead.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Workspace } from '@buildd/protocol';

/** A git command failed; the message holds the command and git's own stderr. */
export class GitError extends Error {
  override name = 'GitError';
}

/** Identity of the agent's commits: the run's HOME may be temporary, so git has no user config. */
export const agentIdentity = {
  GIT_AUTHOR_NAME: 'buildd agent',
  GIT_AUTHOR_EMAIL: 'agent@buildd.local',
  GIT_COMMITTER_NAME: 'buildd agent',
  GIT_COMMITTER_EMAIL: 'agent@buildd.local',
} as const;

// Unattended: never wait for a password prompt, never open an editor.
const unattended = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_EDITOR: 'true',
  GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes',
};

/** Run `git args…` in `cwd` and return its stdout. Network commands get a longer timeout. */
export function git(cwd: string, args: string[], opts: { signal?: AbortSignal; timeoutMs?: number } = {}) {
  return new Promise<string>((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd,
        env: { ...process.env, ...unattended, ...agentIdentity },
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 120_000,
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const detail = String(stderr).trim().split('\n').slice(-5).join(' / ') || error.message;
        reject(new GitError(`git ${args.slice(0, 3).join(' ')} failed: ${detail}`, { cause: error }));
      },
    );
  });
}

const locks = new Map<string, Promise<unknown>>();

/**
 * Run `fn` while holding the lock of one cached clone: concurrent fetches, `worktree add` and branch
 * deletions on the same `.git` race on its lock files and fail.
 */
export async function withRepoLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const current = previous.catch(() => undefined).then(fn);
  locks.set(key, current);
  try {
    return await current;
  } finally {
    if (locks.get(key) === current) locks.delete(key);
  }
}

/** Where a task runs. `repo` is null for a scratch directory (a workspace without a repository). */
export interface Checkout {
  dir: string;
  branch: string;
  repo: { cacheDir: string; baseSha: string } | null;
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

/** Prepare the task's checkout: fetch (or first clone) the cache, then add a worktree on `branch`. */
export async function prepareCheckout(input: {
  dataDir: string;
  workerId: string;
  workspace: Workspace;
  branch: string;
  signal?: AbortSignal;
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
  return withRepoLock(cacheDir, async () => {
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
    try {
      await git(cacheDir, ['worktree', 'add', '--quiet', '-B', branch, '--', dir, startSha], opts);
    } catch (error) {
      // An abort can stop git half-way: leave no registered worktree or stray branch behind.
      await dropWorktree(cacheDir, dir, branch).catch(() => undefined);
      throw error;
    }
    return { dir, branch, repo: { cacheDir, baseSha } };
  });
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

/**
 * Unregister and delete the worktree at `dir` if there is one, and delete `branch` if it exists.
 * The usual case costs two git calls (each is a process start, a noticeable part of a task's overhead).
 */
async function dropWorktree(cacheDir: string, dir: string, branch: string | null) {
  const exists = await stat(dir).then(
    () => true,
    () => false,
  );
  const removed =
    exists &&
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

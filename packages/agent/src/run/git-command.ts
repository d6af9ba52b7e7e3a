/**
 * The `git` CLI as the agent runs it: unattended, with the agent's identity, git's own stderr in the
 * error, and one lock per cached clone.
 */
import { execFile } from 'node:child_process';

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

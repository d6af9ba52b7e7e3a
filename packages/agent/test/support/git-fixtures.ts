/**
 * Local git repositories for tests: a bare "origin" with an initial commit on its default branch,
 * cloned by the agent exactly as it would clone a remote one (a path works as a repository URL).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const identity = {
  GIT_AUTHOR_NAME: 'fixture',
  GIT_AUTHOR_EMAIL: 'fixture@buildd.local',
  GIT_COMMITTER_NAME: 'fixture',
  GIT_COMMITTER_EMAIL: 'fixture@buildd.local',
};

/** Run git synchronously with a fixed identity; returns trimmed stdout. */
export function gitSync(cwd: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: { ...process.env, ...identity },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** A bare origin repository made by `makeOrigin`. */
export interface Origin {
  /** Path of the bare repository: use it as the workspace's `repoUrl`. */
  url: string;
  defaultBranch: string;
  /** Sha of the initial commit. */
  baseSha: string;
  /** Files of a branch at its tip, path → content (text files only). */
  readFile(branch: string, path: string): string;
  /** Whether a branch exists in the origin. */
  hasBranch(branch: string): boolean;
}

/**
 * Make a bare origin under `root` with one commit on `defaultBranch` holding `files`
 * (default: a README), plus `count` generated files `src/file-<n>.txt` for larger repositories.
 */
export function makeOrigin(
  root: string,
  opts: { defaultBranch?: string; files?: Record<string, string>; count?: number } = {},
): Origin {
  const defaultBranch = opts.defaultBranch ?? 'main';
  const url = join(root, 'origin.git');
  const seed = mkdtempSync(join(root, 'seed-'));
  gitSync(root, ['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`, url]);
  gitSync(seed, ['init', '--quiet', `--initial-branch=${defaultBranch}`]);
  const files: Record<string, string> = { 'README.md': '# fixture\n', ...opts.files };
  for (let n = 0; n < (opts.count ?? 0); n++) files[`src/file-${n}.txt`] = `line one of ${n}\nline two\n`;
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(seed, path)), { recursive: true });
    writeFileSync(join(seed, path), content);
  }
  gitSync(seed, ['add', '-A']);
  gitSync(seed, ['commit', '--quiet', '-m', 'initial commit']);
  gitSync(seed, ['push', '--quiet', url, `HEAD:refs/heads/${defaultBranch}`]);
  const baseSha = gitSync(seed, ['rev-parse', 'HEAD']);
  return {
    url,
    defaultBranch,
    baseSha,
    readFile: (branch, path) => gitSync(url, ['show', `${branch}:${path}`]),
    hasBranch: (branch) => {
      try {
        gitSync(url, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]);
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** A fresh temporary directory (remove it in afterEach/afterAll). */
export function tempDir(prefix = 'buildd-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

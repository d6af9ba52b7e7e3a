/**
 * The SDK's own sandbox for a run's tools (bubblewrap on Linux): what a task's commands may write,
 * read and reach. The guard (guard.ts) refuses a few obvious mistakes; this is the boundary.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { SandboxSettings } from '@anthropic-ai/claude-agent-sdk';
import type { WorkspaceConfig } from '@buildd/protocol';

/** The agent-wide part of the sandbox: what no run may read. */
export interface SandboxPolicy {
  /** Environment variables that hold secrets: never visible to a task's commands. */
  deniedEnvVars: string[];
  /** Directories no task may read: the agent's data dir (spool, other worktrees), ~/.buildd, Claude's config. */
  deniedReadPaths: string[];
}

/** Where one run lives. */
export interface SandboxScope {
  worktree: string;
  /** The cached clone the worktree belongs to (its `.git` holds the worktree's objects and refs), if any. */
  cacheDir: string | null;
  /** The worktree's own admin dir in the clone's `.git/worktrees` (HEAD, index), if any. */
  adminDir: string | null;
  /** HOME of the run, for `~/` in the workspace's writable caches. */
  home: string;
  workspace: Pick<WorkspaceConfig, 'allowedDomains' | 'writableCaches'>;
}

/** The variables every policy denies, whatever the operator adds. */
export const secretEnvVars = [
  'ANTHROPIC_API_KEY',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'BUILDD_API_KEY',
  'BUILDD_ADMIN_KEY',
];

/** The `sandbox` option of `query()` for one run. */
export function sandboxSettings(policy: SandboxPolicy, scope: SandboxScope): SandboxSettings {
  const expand = (path: string) => resolve(path.replace(/^~(?=$|\/)/, scope.home || homedir()));
  const gitDir = scope.cacheDir ? join(scope.cacheDir, '.git') : null;
  // The model may commit: that writes objects, its branch's ref and log, and the worktree's own
  // admin dir in the cache - not the cache's config, hooks or other branches.
  const gitWrites = gitDir
    ? [
        join(gitDir, 'objects'),
        join(gitDir, 'refs', 'heads'),
        join(gitDir, 'logs'),
        // Named by the admin dir, not the worktree's path: a worktree made as the spare keeps its name.
        join(gitDir, 'worktrees', basename(scope.adminDir ?? scope.worktree)),
      ].filter((path) => existsSync(path))
    : [];
  const caches = (scope.workspace.writableCaches ?? []).map(expand).filter((path) => isAbsolute(path));
  return {
    enabled: true,
    // Missing bubblewrap ends the run with an error rather than running unsandboxed.
    failIfUnavailable: true,
    autoAllowBashIfSandboxed: true,
    // No `dangerouslyDisableSandbox` escape hatch for the model.
    allowUnsandboxedCommands: false,
    filesystem: {
      allowWrite: [scope.worktree, ...gitWrites, ...caches],
      denyRead: policy.deniedReadPaths,
      allowRead: [scope.worktree, ...(scope.cacheDir ? [scope.cacheDir] : []), ...caches],
    },
    network: {
      allowedDomains: scope.workspace.allowedDomains ?? [],
      // Without it a host off the list is a permission prompt, which an unattended run would allow.
      strictAllowlist: true,
    },
    credentials: { envVars: policy.deniedEnvVars.map((name) => ({ name, mode: 'deny' as const })) },
  };
}

/**
 * The policy of an agent: its data dir (spool, other worktrees, caches), `~/.buildd` and Claude's
 * config dir (a stored login) of both the agent's and the run's HOME unreadable; every secret
 * variable hidden.
 */
export function agentSandboxPolicy(input: {
  dataDir: string;
  homes: readonly (string | undefined)[];
  claudeConfigDir?: string | undefined;
  secretEnvNames?: readonly string[];
}): SandboxPolicy {
  const homes = [...new Set(input.homes.filter((h): h is string => !!h))];
  const paths = [
    input.dataDir,
    ...homes.flatMap((home) => [join(home, '.buildd'), join(home, '.claude')]),
    ...(input.claudeConfigDir ? [input.claudeConfigDir] : []),
  ];
  return {
    deniedEnvVars: [...new Set([...secretEnvVars, ...(input.secretEnvNames ?? [])])],
    deniedReadPaths: [...new Set(paths.map((p) => resolve(p)))],
  };
}

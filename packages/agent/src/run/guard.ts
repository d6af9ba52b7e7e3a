/**
 * A last line of defence for unattended runs: the SDK runs tools without asking anyone, often as
 * root, so a PreToolUse hook refuses the few things no task should ever do (wipe the disk, force-push
 * someone else's branch, pipe the internet into a shell) and file writes outside the task's checkout.
 * It is a seat belt, not a sandbox: a determined command can still get around a pattern list.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { HookCallbackMatcher, HookJSONOutput } from '@anthropic-ai/claude-agent-sdk';

/** Where a run may write, and which branch it may force-push. */
export interface GuardScope {
  /** The task's checkout: writes must stay inside it. */
  worktree: string;
  /** The task's own branch: the only one a push may force or delete. */
  branch: string;
}

/** Tools whose input names a file the tool writes. */
const fileWriteTools: Record<string, string> = {
  Write: 'file_path',
  Edit: 'file_path',
  MultiEdit: 'file_path',
  NotebookEdit: 'notebook_path',
};

const dangerousRmTargets = new Set([
  '/',
  '/*',
  '~',
  '~/',
  '~/*',
  '$HOME',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable, not a template
  '${HOME}',
  '$HOME/',
  '$HOME/*',
  '/root',
  '..',
]);

const bashRules: [RegExp, string][] = [
  [/(^|[\s;&|(])dd\b[^;&|]*\bof=\/dev\//, 'writing to a raw device with dd'],
  [/>\s*\/dev\/(sd|hd|vd|xvd|nvme|mmcblk)/, 'writing to a raw disk device'],
  [/\bsystemctl\s+(poweroff|reboot|halt|kexec)\b/, 'shutting down the machine'],
  [/\b(curl|wget)\b[^;&]*\|\s*(sudo\s+)?(env\s+)?(ba|z|da|k|fi)?sh\b/, 'piping a download into a shell'],
  [/\b(curl|wget)\b[^;&]*\|\s*(sudo\s+)?python[0-9.]*\b/, 'piping a download into an interpreter'],
  [/:\s*\(\s*\)\s*\{[^}]*:\s*\|\s*:/, 'a fork bomb'],
  [
    /\b(chmod|chown)\s+(-\w*R\w*\s+|--recursive\s+)\S*\s*\/(\s|$)/,
    'changing permissions of the whole file system',
  ],
];

/**
 * Why a tool call must be refused, or null when it may run. Pure, so it is easy to test.
 */
export function checkToolUse(toolName: string, input: unknown, scope: GuardScope): string | null {
  const fields = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  const pathField = fileWriteTools[toolName];
  if (pathField) {
    const target = fields[pathField];
    if (typeof target !== 'string' || target === '') return null; // the tool itself rejects it
    return checkWritePath(target, scope.worktree);
  }
  if (toolName === 'Bash' && typeof fields.command === 'string') return checkCommand(fields.command, scope);
  return null;
}

/** Refuse a write whose real location is outside the worktree or inside its `.git`. */
function checkWritePath(target: string, worktree: string): string | null {
  const root = realPath(worktree);
  const full = realPath(isAbsolute(target) ? target : resolve(worktree, target));
  const rel = relative(root, full);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    return `writing ${target} is outside the task's working directory ${worktree}`;
  }
  if (rel === '.git' || rel.startsWith(`.git${sep}`)) return `writing ${target} would alter git metadata`;
  return null;
}

/** Resolve symlinks of the deepest existing ancestor, so `/tmp/link/../x` cannot sneak out. */
function realPath(path: string): string {
  let current = resolve(path);
  const rest: string[] = [];
  while (!existsSync(current)) {
    const parent = dirname(current);
    if (parent === current) break;
    rest.unshift(current.slice(parent.length).replace(/^[/\\]/, ''));
    current = parent;
  }
  try {
    return resolve(realpathSync(current), ...rest);
  } catch {
    return resolve(path);
  }
}

function checkCommand(command: string, scope: GuardScope): string | null {
  for (const [pattern, what] of bashRules) {
    if (pattern.test(command)) return `refused: ${what} is not allowed in an agent run`;
  }
  // Split into simple commands so `cd x && rm -rf /` is seen; quoting is ignored on purpose
  // (a false refusal costs one model turn, a missed one can cost the machine).
  for (const segment of command.split(/&&|\|\||[;|\n&]/)) {
    const words = segment.trim().split(/\s+/).filter(Boolean);
    // Look past prefixes that run the real command: `sudo rm …`, `FOO=1 rm …`.
    while (prefixes.has(words[0] ?? '') || /^\w+=/.test(words[0] ?? '')) words.shift();
    const reason = checkSimpleCommand(words, scope);
    if (reason) return `refused: ${reason} is not allowed in an agent run`;
  }
  return null;
}

const powerCommands = new Set(['shutdown', 'reboot', 'halt', 'poweroff']);
const prefixes = new Set(['sudo', 'env', 'command', 'exec', 'nohup', 'time', 'nice']);

function checkSimpleCommand(words: string[], scope: GuardScope): string | null {
  const [name = '', first] = words;
  if (name === 'rm') return checkRm(words);
  if (name === 'git') return checkGitPush(words, scope);
  if (/^mkfs(\.\w+)?$/.test(name)) return 'formatting a file system';
  if (powerCommands.has(name) || (/^(init|telinit)$/.test(name) && /^[06]$/.test(first ?? ''))) {
    return 'shutting down the machine';
  }
  return null;
}

function checkRm(words: string[]): string | null {
  const flags = words.filter((w) => w.startsWith('-'));
  const recursive = flags.some((f) => f === '--recursive' || /^-[a-zA-Z]*[rR]/.test(f));
  if (flags.includes('--no-preserve-root')) return 'rm --no-preserve-root';
  const targets = words.slice(1).filter((w) => !w.startsWith('-'));
  const bad = targets.find((t) => dangerousRmTargets.has(t.replace(/^["']|["']$/g, '')));
  return recursive && bad ? `rm -r of ${bad}` : null;
}

function checkGitPush(words: string[], scope: GuardScope): string | null {
  const pushAt = words.indexOf('push');
  if (pushAt < 0) return null;
  const args = words.slice(pushAt + 1);
  const force = args.some((a) =>
    /^(--force(-with-lease)?(=.*)?|--mirror|--delete|-[a-zA-Z]*[fd][a-zA-Z]*)$/.test(a),
  );
  const refspecs = args.filter((a) => !a.startsWith('-')).slice(1); // the first one is the remote
  const rewrites = refspecs.filter((r) => r.startsWith('+') || r.startsWith(':'));
  if (!force && rewrites.length === 0) return null;
  // Forcing is fine on the task's own branch only, named explicitly.
  const own = (r: string) => {
    const name = r.replace(/^[+:]/, '').split(':').pop() ?? '';
    return name === scope.branch || name === `refs/heads/${scope.branch}`;
  };
  if (refspecs.length > 0 && refspecs.every(own)) return null;
  return `a forced or deleting git push to a branch other than ${scope.branch}`;
}

/**
 * The PreToolUse hook for `query({ options: { hooks: { PreToolUse: [guardHook(…)] } } })`.
 * `onDeny` lets the run report the refusal as a progress event.
 */
export function guardHook(
  scope: GuardScope,
  onDeny?: (tool: string, reason: string) => void,
): HookCallbackMatcher {
  return {
    hooks: [
      async (input): Promise<HookJSONOutput> => {
        if (input.hook_event_name !== 'PreToolUse') return {};
        const reason = checkToolUse(input.tool_name, input.tool_input, scope);
        if (!reason) return {};
        onDeny?.(input.tool_name, reason);
        return {
          hookSpecificOutput: {
            hookEventName: 'PreToolUse',
            permissionDecision: 'deny',
            permissionDecisionReason: reason,
          },
        };
      },
    ],
  };
}

/**
 * A seat belt for unattended runs: the SDK runs tools without asking anyone, often as root, so a
 * PreToolUse hook refuses the few things no task should ever do (wipe the disk, force-push someone
 * else's branch, pipe the internet into a shell), file writes outside the task's checkout, and file
 * reads of the agent's own secrets. It sees through cheap disguises (`/bin/rm`, `\rm`, `bash -c`,
 * git aliases, symlinks), but a pattern list is never a boundary: the sandbox (sandbox.ts) is.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import type { HookCallbackMatcher, HookJSONOutput } from '@anthropic-ai/claude-agent-sdk';

/** Where a run may write, and which branch it may force-push. */
export interface GuardScope {
  /** The task's checkout: writes must stay inside it. */
  worktree: string;
  /** The task's own branch: the only one a push may force or delete. */
  branch: string;
  /** Paths file tools may not read (the agent's data dir, ~/.buildd …); the worktree stays readable. */
  deniedReadPaths?: readonly string[];
  /** Hosts WebFetch may reach; null = any (an unsandboxed run). */
  allowedDomains?: readonly string[] | null;
}

/** Tools whose input names a file or directory the tool reads. */
const fileReadTools: Record<string, string> = {
  Read: 'file_path',
  NotebookRead: 'notebook_path',
  Grep: 'path',
  Glob: 'path',
  LS: 'path',
};

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
  const readField = fileReadTools[toolName];
  if (readField) {
    const target = fields[readField];
    if (typeof target !== 'string' || target === '') return null;
    return checkReadPath(target, scope);
  }
  if (toolName === 'WebFetch' && typeof fields.url === 'string') return checkFetch(fields.url, scope);
  if (toolName === 'Bash' && typeof fields.command === 'string')
    return checkCommand(fields.command, scope, 0);
  return null;
}

/** Whether `path` is `root` or inside it. */
function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** Refuse reading a process's environment (it holds the Claude credential) and the agent's own files. */
function checkReadPath(target: string, scope: GuardScope): string | null {
  const full = realPath(isAbsolute(target) ? target : resolve(scope.worktree, target));
  if (/^\/proc\/[^/]+\/(environ|cmdline)$/.test(full))
    return `reading ${target} (a process's environment) is not allowed`;
  if (within(realPath(scope.worktree), full)) return null;
  const denied = (scope.deniedReadPaths ?? []).find((path) => within(realPath(path), full));
  return denied ? `reading ${target} is not allowed: it belongs to the buildd agent` : null;
}

/** Refuse WebFetch of a host the workspace does not allow (the sandbox checks commands only). */
function checkFetch(url: string, scope: GuardScope): string | null {
  if (!scope.allowedDomains) return null;
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return null; // the tool itself rejects it
  }
  const allowed = scope.allowedDomains.some((domain) => {
    const d = domain.toLowerCase();
    return d.startsWith('*.') ? host.endsWith(d.slice(1)) : host === d;
  });
  return allowed ? null : `fetching ${host} is not allowed: the workspace's allowedDomains do not include it`;
}

/** Refuse a write whose real location is outside the worktree or inside its `.git`. */
function checkWritePath(target: string, worktree: string): string | null {
  const root = realPath(worktree);
  const full = realPath(isAbsolute(target) ? target : resolve(worktree, target));
  const rel = relative(root, full);
  if (!within(root, full) || rel === '') {
    return `writing ${target} is outside the task's working directory ${worktree}`;
  }
  if (rel === '.git' || rel.startsWith(`.git${sep}`)) return `writing ${target} would alter git metadata`;
  return null;
}

/**
 * Where a path really leads: every symlink on the way is followed, a dangling one too (a Write
 * through `link -> /etc/x` creates /etc/x), `..` is applied after the link it follows.
 */
function realPath(path: string): string {
  const parts = resolve(path).split(sep).filter(Boolean);
  let current: string = sep;
  for (let hops = 0; parts.length > 0 && hops < 100; ) {
    const next = join(current, parts.shift() as string);
    let link: string | null = null;
    try {
      if (lstatSync(next).isSymbolicLink()) link = readlinkSync(next);
    } catch {
      link = null; // does not exist (yet): the rest is taken as written
    }
    if (link === null) {
      current = next;
      continue;
    }
    hops += 1;
    const target = resolve(dirname(next), link);
    parts.unshift(...target.split(sep).filter(Boolean));
    current = sep;
  }
  return resolve(current, ...parts);
}

function checkCommand(command: string, scope: GuardScope, depth: number): string | null {
  for (const [pattern, what] of bashRules) {
    if (pattern.test(command)) return `refused: ${what} is not allowed in an agent run`;
  }
  // Split into simple commands so `cd x && rm -rf /` is seen; quoting is ignored on purpose
  // (a false refusal costs one model turn, a missed one can cost the machine).
  for (const segment of command.split(/&&|\|\||[;|\n&`]|\$\(/)) {
    const words = shellWords(segment).map(unquote);
    // Look past prefixes that run the real command: `sudo rm …`, `FOO=1 rm …`.
    while (prefixes.has(commandName(words[0])) || /^\w+=/.test(words[0] ?? '')) words.shift();
    const reason = checkSimpleCommand(words, scope, depth);
    if (reason)
      return reason.startsWith('refused: ') ? reason : `refused: ${reason} is not allowed in an agent run`;
  }
  return null;
}

const powerCommands = new Set(['shutdown', 'reboot', 'halt', 'poweroff']);
const prefixes = new Set(['sudo', 'env', 'command', 'exec', 'nohup', 'time', 'nice', 'busybox', 'xargs']);
const shells = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'ash']);

/**
 * The words of a simple command as a shell reads them: quotes group (`'alias.x=!rm -rf /'` is one
 * word) and are removed, a backslash escapes the next character. An unclosed quote runs to the end.
 */
function shellWords(segment: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && segment[i + 1] === '"') word = `${word ?? ''}${segment[++i]}`;
      else word = `${word ?? ''}${c}`;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\') {
      word = `${word ?? ''}${segment[++i] ?? ''}`;
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else {
      word = `${word ?? ''}${c}`;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** A word without what is left of the quoting around it after splitting (`/"`, `(/`, `/)`). */
function unquote(word: string): string {
  return word.replace(/^["'(]+|["')]+$/g, '');
}

/** The command a word runs: `/bin/rm` and `./rm` are `rm`. */
function commandName(word: string | undefined): string {
  return (word ?? '').split('/').pop() ?? '';
}

function checkSimpleCommand(words: string[], scope: GuardScope, depth: number): string | null {
  const name = commandName(words[0]);
  const first = words[1];
  if (name === 'rm') return checkRm(words);
  if (name === 'git') return checkGit(words, scope, depth);
  // `bash -c "…"`, `eval "…"`: the string is a command line of its own.
  const inline = shells.has(name) ? words.findIndex((w, i) => i > 0 && /^-\w*c\w*$/.test(w)) : -1;
  if ((inline > 0 || name === 'eval') && depth < 5) {
    const script = words.slice(name === 'eval' ? 1 : inline + 1).join(' ');
    return checkCommand(script, scope, depth + 1);
  }
  if (/^mkfs(\.\w+)?$/.test(name)) return 'formatting a file system';
  if (powerCommands.has(name) || (/^(init|telinit)$/.test(name) && /^[06]$/.test(first ?? ''))) {
    return 'shutting down the machine';
  }
  return null;
}

/** `/.`, `//`, `/usr/..` are all `/`; `~/.` is `~`. */
function normalizeTarget(target: string): string {
  if (!target.startsWith('/') && !target.startsWith('~') && !target.startsWith('$')) return target;
  const normalized = posix.normalize(target);
  return normalized.length > 1 ? normalized.replace(/\/+$/, '') || '/' : normalized;
}

function checkRm(words: string[]): string | null {
  const flags = words.filter((w) => w.startsWith('-'));
  const recursive = flags.some((f) => f === '--recursive' || /^-[a-zA-Z]*[rR]/.test(f));
  if (flags.includes('--no-preserve-root')) return 'rm --no-preserve-root';
  const targets = words.slice(1).filter((w) => !w.startsWith('-'));
  const bad = targets.find((t) => dangerousRmTargets.has(t) || dangerousRmTargets.has(normalizeTarget(t)));
  return recursive && bad ? `rm -r of ${bad}` : null;
}

/** Global options of git that take a value as the next word. */
const gitValueOptions = new Set([
  '-c',
  '-C',
  '--git-dir',
  '--work-tree',
  '--namespace',
  '--exec-path',
  '--config-env',
]);

/** `git [global options] <command> …`, with `-c alias.x=…` aliases expanded. */
function checkGit(words: string[], scope: GuardScope, depth: number): string | null {
  const aliases = new Map<string, string>();
  let at = 1;
  while (at < words.length && words[at]?.startsWith('-')) {
    const option = words[at] as string;
    if (gitValueOptions.has(option)) {
      const value = words[at + 1] ?? '';
      const alias = option === '-c' ? /^alias\.([^=]+)=(.*)$/i.exec(value) : null;
      if (alias) aliases.set((alias[1] as string).toLowerCase(), alias[2] as string);
      at += 2;
    } else {
      at += 1;
    }
  }
  const sub = words[at] ?? '';
  const rest = words.slice(at + 1);
  const alias = aliases.get(sub.toLowerCase());
  if (alias !== undefined && depth < 5) {
    // `!cmd` runs a shell command; otherwise the alias is git's own words.
    if (alias.startsWith('!')) return checkCommand(`${alias.slice(1)} ${rest.join(' ')}`, scope, depth + 1);
    return checkGit(['git', ...alias.split(/\s+/).filter(Boolean), ...rest], scope, depth + 1);
  }
  return sub === 'push' ? checkGitPush(rest, scope) : null;
}

function checkGitPush(args: string[], scope: GuardScope): string | null {
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

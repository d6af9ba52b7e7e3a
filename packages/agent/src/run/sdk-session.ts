/**
 * One Claude Agent SDK session for a task: builds the `query()` options (model, limits, the guard,
 * unattended permissions, an isolated environment) and drains the message stream into a ProgressTracker.
 */
import { randomUUID } from 'node:crypto';
import {
  type Options,
  query,
  type SandboxSettings,
  type SDKResultMessage,
} from '@anthropic-ai/claude-agent-sdk';
import { ClaudeProcess } from './claude-process.ts';
import { agentIdentity } from './git.ts';
import { guardHook } from './guard.ts';
import type { ProgressTracker } from './progress.ts';
import type { RunLog } from './types.ts';

/** Everything one session needs. */
export interface SdkSession {
  prompt: string;
  cwd: string;
  branch: string;
  model: string;
  maxTurns?: number | undefined;
  budgetUsd?: number | undefined;
  /** Appended to Claude Code's system prompt. */
  instructions?: string | undefined;
  claudeEnv: Record<string, string>;
  /** The SDK's sandbox for the tools, or null to run them unsandboxed. */
  sandbox: SandboxSettings | null;
  /** Paths the guard refuses to let file tools read (the sandbox covers commands only). */
  deniedReadPaths: string[];
  /** Aborting it kills the Claude Code process and its tool processes. */
  abort: AbortController;
  tracker: ProgressTracker;
  onDeny: (tool: string, reason: string) => void;
  log: RunLog;
}

// Tools that make no sense in a headless one-shot run: they would leave the worktree or wait for
// a later wake-up that never comes.
const disallowedTools = [
  'EnterWorktree',
  'ExitWorktree',
  'CronCreate',
  'CronDelete',
  'CronList',
  'ScheduleWakeup',
];
// After an abort the SDK kills its child; if the stream still has not ended by then, close it hard.
const closeAfterAbortMs = 10_000;
// The child normally exits right after its result (or within the SDK's ~2 s abort grace).
const childExitGraceMs = 5_000;

/** Run the session to its end and return its result message, or throw what the SDK threw. */
export async function runSdkSession(
  s: SdkSession,
): Promise<{ result: SDKResultMessage | null; thrown: unknown }> {
  const env: Record<string, string> = {
    // Without a HOME of its own the model's `git commit` would fail for want of an identity.
    ...(s.claudeEnv.GIT_AUTHOR_NAME ? {} : agentIdentity),
    ...s.claudeEnv,
    // No DNS look-ups, update checks or side requests from a worker.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
  const child = new ClaudeProcess((data) =>
    s.log('debug', 'claude code stderr', { data: data.slice(0, 1_000) }),
  );
  const options: Options = {
    cwd: s.cwd,
    model: s.model,
    ...(s.maxTurns ? { maxTurns: s.maxTurns } : {}),
    ...(s.budgetUsd ? { maxBudgetUsd: s.budgetUsd } : {}),
    abortController: s.abort,
    settingSources: [],
    persistSession: false,
    sessionId: randomUUID(),
    env,
    systemPrompt: { type: 'preset', preset: 'claude_code', append: systemAppend(s) },
    // acceptEdits + canUseTool run every tool unattended, as root too (bypassPermissions refuses
    // root). No allowedTools: a bare entry there would skip canUseTool, and the guard hook is what
    // decides anyway.
    permissionMode: 'acceptEdits',
    disallowedTools,
    canUseTool: async (_tool, input) => ({ behavior: 'allow', updatedInput: input }),
    hooks: {
      PreToolUse: [
        guardHook(
          {
            worktree: s.cwd,
            branch: s.branch,
            deniedReadPaths: s.deniedReadPaths,
            allowedDomains: s.sandbox?.network?.allowedDomains ?? null,
          },
          s.onDeny,
        ),
      ],
    },
    ...(s.sandbox ? { sandbox: s.sandbox } : {}),
    // Partial messages carry each response's usage as it streams: the basis of live cost figures.
    includePartialMessages: true,
    spawnClaudeCodeProcess: child.spawn,
  };
  const q = query({ prompt: s.prompt, options });
  let closer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    closer = setTimeout(() => q.close(), closeAfterAbortMs);
  };
  s.abort.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const message of q) s.tracker.handle(message);
    return { result: s.tracker.result, thrown: null };
  } catch (error) {
    // An API error result is yielded and then thrown: the tracker already holds that result.
    return { result: s.tracker.result, thrown: error };
  } finally {
    s.abort.signal.removeEventListener('abort', onAbort);
    clearTimeout(closer);
    // Only once the child and its tools are gone may the worktree be committed or removed.
    await child.stop(childExitGraceMs);
  }
}

function systemAppend(s: SdkSession): string {
  const note = [
    'You are running unattended as a buildd agent: nobody will answer questions, so make reasonable',
    `choices and finish the task. You work in a git worktree on branch ${s.branch}. When you finish, buildd`,
    'commits what you leave in the working directory and pushes the branch: do not push yourself.',
    'End with a short summary of what you changed.',
  ].join(' ');
  return s.instructions ? `${note}\n\n${s.instructions}` : note;
}

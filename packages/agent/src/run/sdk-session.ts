/**
 * One Claude Agent SDK session for a task: builds the `query()` options (model, limits, the guard,
 * unattended permissions, an isolated environment) and drains the message stream into a ProgressTracker.
 */
import {
  type Options,
  type PermissionResult,
  query,
  type SandboxSettings,
  type SDKResultMessage,
} from '@anthropic-ai/claude-agent-sdk';
import { ClaudeProcess } from './claude-process.ts';
import { agentIdentity } from './git.ts';
import { guardHook } from './guard.ts';
import type { ProgressTracker } from './progress.ts';
import { SessionInput } from './session-input.ts';
import type { RunLog } from './types.ts';

/** Everything one session needs. */
export interface SdkSession {
  /** The first user message. */
  prompt: string;
  /** This session's id (a UUID): its transcript is `<session id>.jsonl`. */
  sessionId: string;
  /** An earlier session to continue (its transcript already placed for this cwd); this one forks it. */
  resume?: string | undefined;
  /** Called with the session's input once it runs, so messages from a person can join it. */
  onInput?: ((input: SessionInput) => void) | undefined;
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
  /** Asks a person (AskUserQuestion); absent when nobody can answer. */
  ask?: ((question: { text: string; options: string[] }, signal: AbortSignal) => Promise<string>) | undefined;
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
    // No auto memory: it would carry one task's notes into the next task of the same repository on this
    // agent only; what travels with a task is its conversation.
    CLAUDE_CODE_DISABLE_AUTO_MEMORY: '1',
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
    // The transcript is the conversation a later attempt resumes (uploaded, then removed, by the run).
    persistSession: true,
    sessionId: s.sessionId,
    // A fork: the earlier transcript stays as it was, this attempt writes its own (with all of it).
    ...(s.resume ? { resume: s.resume, forkSession: true } : {}),
    env,
    systemPrompt: { type: 'preset', preset: 'claude_code', append: systemAppend(s) },
    // acceptEdits + canUseTool run every tool unattended, as root too (bypassPermissions refuses
    // root). No allowedTools: a bare entry there would skip canUseTool, and the guard hook is what
    // decides anyway.
    permissionMode: 'acceptEdits',
    disallowedTools,
    canUseTool: async (tool, input, { signal }) =>
      tool === askTool && s.ask
        ? answerQuestions(s.ask, input, signal)
        : { behavior: 'allow', updatedInput: input },
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
  // Streaming input, so a person's messages reach the running session.
  const input = new SessionInput(s.prompt);
  s.onInput?.(input);
  const q = query({ prompt: input, options });
  let closer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    closer = setTimeout(() => q.close(), closeAfterAbortMs);
  };
  s.abort.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const message of q) {
      input.observe(message as { type: string });
      s.tracker.handle(message);
    }
    return { result: s.tracker.result, thrown: null };
  } catch (error) {
    // An API error result is yielded and then thrown: the tracker already holds that result.
    return { result: s.tracker.result, thrown: error };
  } finally {
    input.close();
    s.abort.signal.removeEventListener('abort', onAbort);
    clearTimeout(closer);
    // Only once the child and its tools are gone may the worktree be committed or removed.
    await child.stop(childExitGraceMs);
  }
}

const askTool = 'AskUserQuestion';

/**
 * Claude's AskUserQuestion, answered by a person through buildd: the questions go to the server as one
 * question, the run waits, and the answer goes back into the tool's input (`answers`, keyed by question),
 * so the same session continues with it.
 */
async function answerQuestions(
  ask: NonNullable<SdkSession['ask']>,
  input: Record<string, unknown>,
  signal: AbortSignal,
): Promise<PermissionResult> {
  const questions = Array.isArray(input.questions)
    ? (input.questions as { question?: unknown; options?: { label?: unknown }[] }[])
    : [];
  const texts = questions.map((q) => String(q.question ?? '')).filter(Boolean);
  const options =
    questions.length === 1 ? (questions[0]?.options ?? []).map((o) => String(o.label ?? '')) : [];
  try {
    const answer = await ask(
      { text: texts.join('\n') || 'Claude has a question.', options: options.filter(Boolean) },
      signal,
    );
    return {
      behavior: 'allow',
      updatedInput: { ...input, answers: Object.fromEntries(texts.map((t) => [t, answer])) },
    };
  } catch (error) {
    return {
      behavior: 'deny',
      message: `Nobody could be asked (${error instanceof Error ? error.message : String(error)}): decide yourself.`,
    };
  }
}

function systemAppend(s: SdkSession): string {
  const asking = s.ask
    ? 'You are running as a buildd agent. When a choice truly needs a person, ask it with AskUserQuestion and wait for the answer; otherwise make reasonable'
    : 'You are running unattended as a buildd agent: nobody will answer questions, so make reasonable';
  const note = [
    asking,
    `choices and finish the task. You work in a git worktree on branch ${s.branch}. When you finish, buildd`,
    'commits what you leave in the working directory and pushes the branch: do not push yourself.',
    'End with a short summary of what you changed.',
  ].join(' ');
  return s.instructions ? `${note}\n\n${s.instructions}` : note;
}

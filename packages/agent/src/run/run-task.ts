/**
 * One task run, start to end: prepare an isolated checkout, run Claude in it through the SDK with
 * the task's limits, commit and push what it left, report, and clean up. Never throws: every way a
 * run can end becomes a RunOutcome the caller reports to the server.
 */
import { randomUUID } from 'node:crypto';
import type { ClaimedWorker } from '@buildd/protocol';
import { claudeConfigDir, keepConversation, resumeConversation, resumePrompt } from './conversation.ts';
import { branchDiff } from './diff.ts';
import { abortedState, classifySdkEnd, gitFailure } from './end-state.ts';
import { type Checkout, type GitResult, prepareCheckout, removeCheckout } from './git.ts';
import { ProgressTracker } from './progress.ts';
import { publishResult } from './publish.ts';
import { sandboxSettings } from './sandbox.ts';
import { runSdkSession } from './sdk-session.ts';
import {
  abortReason,
  defaultParkAfterMs,
  type EndState,
  type RunContext,
  type RunOutcome,
  type RunTotals,
} from './types.ts';

/** Run one claimed worker's task to its end. */
export async function runTask(worker: ClaimedWorker, ctx: RunContext): Promise<RunOutcome> {
  const { task, workspace } = worker;
  const started = performance.now();
  const timings = { prepareMs: 0, sdkMs: 0, finishMs: 0 };
  const model = task.model ?? workspace.config.model ?? ctx.defaultModel;
  const maxTurns = task.maxTurns ?? workspace.config.maxTurns;
  const budgetUsd = task.budgetUsd ?? workspace.config.budgetUsd;

  // One controller for the whole run: the caller's signal and the timeout both end up here.
  const abort = new AbortController();
  let abortCause: string | null = null;
  const stop = (cause: string) => {
    if (abortCause) return;
    abortCause = cause;
    abort.abort(cause);
  };
  const onSignal = () => stop(abortReason(ctx.signal));
  if (ctx.signal.aborted) onSignal();
  else ctx.signal.addEventListener('abort', onSignal, { once: true });
  const timer = setTimeout(() => stop('timeout'), ctx.timeoutMs);

  let checkout: Checkout | null = null;
  let state: EndState;
  let git: GitResult | null = null;
  let keepBranch = false;
  try {
    ctx.reporter.event('status', { status: 'running', phase: 'prepare', branch: worker.branch });
    ctx.reporter.progress({ status: 'running', currentAction: 'Preparing checkout' });
    try {
      if (abortCause) throw new Error('aborted before start');
      checkout = await prepareCheckout({
        dataDir: ctx.dataDir,
        workerId: worker.id,
        workspace,
        branch: worker.branch,
        signal: abort.signal,
        // The worker's signal, not the run's: it aborts when the agent shuts down.
        refill: { signal: ctx.signal, log: ctx.log },
      });
    } catch (error) {
      // (TypeScript cannot see that `stop` may have set abortCause meanwhile.)
      const cause = abortCause as string | null;
      state = cause ? abortedState(cause, ctx.timeoutMs) : gitFailure('preparing the checkout', error);
      return finalOutcome(worker, noUsage, state, null, timings, ctx);
    } finally {
      timings.prepareMs = Math.round(performance.now() - started);
    }

    const sdkStarted = performance.now();
    const tracker = new ProgressTracker(ctx.reporter, checkout.dir, model);
    const configDir = claudeConfigDir(ctx.claudeEnv);
    const sessionId = randomUUID();
    const resumed = await resumeConversation(worker, checkout.dir, configDir, ctx);
    let closeInput: (() => Promise<void>) | undefined;
    const { result, thrown } = await runSdkSession({
      prompt: resumed ? resumePrompt(worker) : promptOf(worker),
      sessionId,
      resume: resumed ?? undefined,
      onInput: (input) => {
        closeInput = ctx.server?.openInput((text) => input.push(text));
      },
      cwd: checkout.dir,
      branch: worker.branch,
      model,
      maxTurns,
      budgetUsd,
      instructions: workspace.config.instructions,
      claudeEnv: ctx.claudeEnv,
      sandbox: ctx.sandbox
        ? sandboxSettings(ctx.sandbox, {
            worktree: checkout.dir,
            cacheDir: checkout.repo?.cacheDir ?? null,
            adminDir: checkout.repo?.adminDir ?? null,
            home: ctx.claudeEnv.HOME ?? '',
            workspace: workspace.config,
          })
        : null,
      deniedReadPaths: ctx.sandbox?.deniedReadPaths ?? [],
      abort,
      tracker,
      ...(ctx.server ? { ask: parkingAsk(ctx, stop, abort.signal) } : {}),
      onDeny: (tool, reason) =>
        ctx.reporter.event('log', { level: 'warn', message: `guard denied ${tool}: ${reason}` }),
      log: ctx.log,
    });
    await closeInput?.();
    clearTimeout(timer);
    timings.sdkMs = Math.round(performance.now() - sdkStarted);
    state = classifySdkEnd({
      result,
      thrown,
      abortCause,
      lastText: tracker.lastText,
      timeoutMs: ctx.timeoutMs,
      maxTurns,
      budgetUsd,
    });
    if (state.status !== 'completed') ctx.log('warn', 'run ended early', { exitCause: state.exitCause });

    const finishStarted = performance.now();
    if (state.status === 'completed') {
      const published = await publishResult(worker, checkout, state, ctx);
      ({ state, git, keepBranch } = published);
      if (git && git.commits > 0 && ctx.server) await uploadDiff(checkout, ctx);
    }
    // After the push, so a later attempt that resumes it finds the commits the conversation speaks of.
    await keepConversation(checkout.dir, configDir, [sessionId, ...(resumed ? [resumed] : [])], ctx);
    timings.finishMs = Math.round(performance.now() - finishStarted);
    return finalOutcome(worker, tracker.totals, state, git, timings, ctx);
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onSignal);
    if (checkout) {
      await removeCheckout(checkout, { keepBranch }).catch((error: unknown) =>
        ctx.log('warn', 'could not remove the checkout', { dir: checkout?.dir, error: String(error) }),
      );
    }
  }
}

/**
 * A run that waits for an answer longer than `parkAfterMs` is parked: the session stops (cause `parked`), the
 * work so far is committed and pushed, the conversation uploaded, and the worker ends and frees its slot.
 */
function parkingAsk(
  ctx: RunContext,
  stop: (cause: string) => void,
  run: AbortSignal,
): NonNullable<RunContext['server']>['ask'] {
  return async (question, signal) => {
    const parkAfterMs = ctx.parkAfterMs ?? defaultParkAfterMs;
    const timer = setTimeout(() => {
      ctx.log('info', 'no answer yet: parking the run', { parkAfterMs });
      stop('parked');
    }, parkAfterMs);
    try {
      // The run's own signal too: a stopped run must stop asking the server even if the SDK never aborts the call.
      return await (ctx.server as NonNullable<RunContext['server']>).ask(
        question,
        AbortSignal.any([signal, run]),
      );
    } finally {
      clearTimeout(timer);
    }
  };
}

/** The branch's diff as the task's `diff` artifact, for review; a failure is reported, never fatal. */
async function uploadDiff(checkout: Checkout, ctx: RunContext): Promise<void> {
  const diff = await branchDiff(checkout).catch((error: unknown) => {
    ctx.log('warn', 'could not compute the diff', { error: String(error) });
    return null;
  });
  if (diff) await ctx.server?.uploadArtifact('diff', 'text/x-diff; charset=utf-8', diff);
}

/**
 * The task's prompt, and for an attempt that continues an earlier one what it continues with: a person's
 * answer to the question the earlier run asked, or a follow-up instruction. The checkout is already on the
 * earlier attempt's branch, with its commits.
 */
export function promptOf(worker: ClaimedWorker): string {
  const input = worker.resume?.input;
  if (!input) return worker.task.prompt;
  const lead =
    input.kind === 'answer'
      ? 'An earlier run of this task asked a person a question and stopped to wait. Their answer:'
      : 'An earlier run finished this task on this branch (its commits are here). A person now asks for more:';
  return `${worker.task.prompt}\n\n${lead}\n\n${input.text}`;
}

const noUsage: RunTotals = { turns: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, costUsd: 0 };

function finalOutcome(
  worker: ClaimedWorker,
  totals: RunTotals,
  state: EndState,
  git: GitResult | null,
  timings: RunOutcome['timings'],
  ctx: RunContext,
): RunOutcome {
  if (state.error) ctx.reporter.event('error', { exitCause: state.exitCause, message: state.error });
  ctx.reporter.event('status', { status: state.status, exitCause: state.exitCause });
  return {
    ...state,
    branch: worker.branch,
    ...(git?.commitSha ? { commitSha: git.commitSha } : {}),
    ...(git
      ? { filesChanged: git.filesChanged, linesAdded: git.linesAdded, linesRemoved: git.linesRemoved }
      : {}),
    ...totals,
    timings,
  };
}

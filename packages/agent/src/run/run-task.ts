/**
 * One task run, start to end: prepare an isolated checkout, run Claude in it through the SDK with
 * the task's limits, commit and push what it left, report, and clean up. Never throws: every way a
 * run can end becomes a RunOutcome the caller reports to the server.
 */
import type { ClaimedWorker } from '@buildd/protocol';
import { abortedState, classifySdkEnd, gitFailure } from './end-state.ts';
import { type Checkout, type GitResult, prepareCheckout, removeCheckout } from './git.ts';
import { ProgressTracker } from './progress.ts';
import { publishResult } from './publish.ts';
import { sandboxSettings } from './sandbox.ts';
import { runSdkSession } from './sdk-session.ts';
import { abortReason, type EndState, type RunContext, type RunOutcome, type RunTotals } from './types.ts';

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
    const { result, thrown } = await runSdkSession({
      prompt: task.prompt,
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
            home: ctx.claudeEnv.HOME ?? '',
            workspace: workspace.config,
          })
        : null,
      deniedReadPaths: ctx.sandbox?.deniedReadPaths ?? [],
      abort,
      tracker,
      onDeny: (tool, reason) =>
        ctx.reporter.event('log', { level: 'warn', message: `guard denied ${tool}: ${reason}` }),
      log: ctx.log,
    });
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
    }
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

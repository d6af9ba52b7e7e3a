/**
 * The end of a completed run: commit what it left, measure the branch and push it when the
 * workspace allows. A failed or cancelled run skips this; its worktree is just removed.
 */
import type { ClaimedWorker } from '@buildd/protocol';
import { type Checkout, commitAndMeasure, type GitResult, pushBranch } from './git.ts';
import type { RunContext } from './run.ts';
import { abortedState, type EndState } from './run-outcome.ts';
import { truncate } from './run-tracker.ts';

/** What publishing produced; `keepBranch` asks the cleanup to leave the branch in the cache. */
export interface Published {
  state: EndState;
  git: GitResult | null;
  keepBranch: boolean;
}

/** The caller's abort reason as a string cause ('aborted' when it gave none). */
export function abortReason(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'aborted';
}

/** Commit, measure and push a completed run's checkout. Errors become a failed/git state. */
export async function publishResult(
  worker: ClaimedWorker,
  checkout: Checkout,
  state: EndState,
  ctx: RunContext,
): Promise<Published> {
  if (!checkout.repo) return { state, git: null, keepBranch: false };
  ctx.reporter.event('status', { status: 'running', phase: 'finish' });
  ctx.reporter.progress({ currentAction: 'Committing and pushing' });
  let git: GitResult | null = null;
  // Until a push succeeds the commit exists only in the cache: keep its branch there.
  let keepBranch = false;
  try {
    git = await commitAndMeasure(checkout, commitMessage(worker, state.summary));
    const hasCommits = (git?.commits ?? 0) > 0;
    const push = hasCommits && worker.workspace.config.push !== false;
    keepBranch = hasCommits;
    if (ctx.signal.aborted) {
      return { state: abortedState(abortReason(ctx.signal), ctx.timeoutMs), git, keepBranch: false };
    }
    if (push) {
      await pushBranch(checkout, ctx.signal);
      keepBranch = false;
    }
    const kept = keepBranch ? { keptIn: checkout.repo.cacheDir } : {};
    ctx.reporter.event('git', { ...git, branch: worker.branch, pushed: push, ...kept });
    return { state, git, keepBranch };
  } catch (error) {
    if (ctx.signal.aborted) {
      return { state: abortedState(abortReason(ctx.signal), ctx.timeoutMs), git, keepBranch: false };
    }
    const failed = gitFailure('committing and pushing the result', error, keepBranch ? checkout : null);
    return { state: failed, git, keepBranch };
  }
}

/** A failed/git state whose error says what git was doing and where a kept commit lives. */
export function gitFailure(doing: string, error: unknown, kept: Checkout | null = null): EndState {
  const message = error instanceof Error ? error.message : String(error);
  const where = kept?.repo ? ` The commit is kept on branch ${kept.branch} in ${kept.repo.cacheDir}.` : '';
  return {
    status: 'failed',
    exitCause: 'git',
    error: truncate(`git failed while ${doing}: ${message}.${where}`, 2_000),
  };
}

function commitMessage(worker: ClaimedWorker, summary: string | undefined): string {
  const head = truncate(worker.task.title.replace(/\s+/g, ' ').trim(), 72);
  const body = summary ? `\n\n${truncate(summary, 4_000)}` : '';
  return `${head}${body}\n\nbuildd-task: ${worker.task.id}\nbuildd-worker: ${worker.id}`;
}

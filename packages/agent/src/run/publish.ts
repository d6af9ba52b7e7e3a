/**
 * The end of a completed run: commit what it left, measure the branch and push it when the
 * workspace allows. A failed or cancelled run skips this; its worktree is just removed.
 */
import type { ClaimedWorker } from '@buildd/protocol';
import { abortedState, gitFailure } from './end-state.ts';
import { type Checkout, commitAndMeasure, type GitResult, pushBranch } from './git.ts';
import { abortReason, type EndState, type RunContext, truncate } from './types.ts';

/** What publishing produced; `keepBranch` asks the cleanup to leave the branch in the cache. */
export interface Published {
  state: EndState;
  git: GitResult | null;
  keepBranch: boolean;
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

function commitMessage(worker: ClaimedWorker, summary: string | undefined): string {
  const head = truncate(worker.task.title.replace(/\s+/g, ' ').trim(), 72);
  const body = summary ? `\n\n${truncate(summary, 4_000)}` : '';
  return `${head}${body}\n\nbuildd-task: ${worker.task.id}\nbuildd-worker: ${worker.id}`;
}

import type { DuePullRequest } from '../queue/pull-requests.ts';
import { type GitHubClient, GitHubError, type PullRequestRef, type PullRequestText } from './client.ts';

/**
 * Opens the task's pull request, or updates the one it already has: the one recorded for this head, else
 * an open one GitHub has for the branch (opened before a crash lost the answer, or by hand), else a new one.
 * So a retried sync, a retried task or a follow-up on the same branch never opens a second one.
 */
export async function syncPullRequest(
  github: GitHubClient,
  due: Pick<DuePullRequest, 'head' | 'number' | 'pr_head' | 'default_branch' | 'draft'> & { repo: string },
  text: PullRequestText,
): Promise<PullRequestRef> {
  if (due.number !== null && due.pr_head === due.head) {
    try {
      return await github.updatePullRequest(due.repo, due.number, text);
    } catch (err) {
      // Gone (deleted repository fork, transferred): look for another one as if none were recorded.
      if (!(err instanceof GitHubError) || err.status !== 404) throw err;
    }
  }
  const open = await github.findOpenPullRequest(due.repo, due.head);
  if (open) return github.updatePullRequest(due.repo, open.number, text);
  try {
    return await github.createPullRequest(due.repo, {
      ...text,
      head: due.head,
      base: due.default_branch,
      draft: due.draft,
    });
  } catch (err) {
    // 422 also means "a pull request already exists" when one was opened meanwhile: update that one.
    if (!(err instanceof GitHubError) || err.status !== 422) throw err;
    const raced = await github.findOpenPullRequest(due.repo, due.head);
    if (!raced) throw err;
    return github.updatePullRequest(due.repo, raced.number, text);
  }
}

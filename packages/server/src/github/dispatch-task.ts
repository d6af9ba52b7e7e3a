import type { Logger } from 'pino';
import type { Queryable } from '../db/index.ts';
import type { TaskRow } from '../db/rows.ts';
import { readWorkspaceGithubRepo } from '../store/workspace-github.ts';
import { type GitHubClient, GitHubError } from './client.ts';

/** The `repository_dispatch` type the "buildd worker" workflow listens for (deploy/github/). */
export const dispatchEventType = 'buildd-task';

const retryDelaysMs = [500, 2000];

/**
 * A task that prefers `action` runners, in a workspace whose config names a GitHub repository, starts
 * that repository's "buildd worker" workflow: the runner's agent then claims it like any other. Never
 * throws: a failed call (after retries of transient failures) is logged, and the task stays pending for
 * any action agent, or for someone who runs the workflow by hand.
 */
export async function dispatchToActionRunner(
  deps: { db: Queryable; log: Logger; github?: GitHubClient | undefined },
  task: Pick<TaskRow, 'id' | 'workspace_id' | 'runner_preference'>,
): Promise<void> {
  if (task.runner_preference !== 'action') return;
  let repo: string | undefined;
  try {
    repo = await readWorkspaceGithubRepo(deps.db, task.workspace_id);
    if (!repo) return;
    if (!deps.github) {
      deps.log.warn(
        { task: task.id, repo },
        'the workspace names a GitHub repository but BUILDD_GITHUB_TOKEN is not set: no workflow was started',
      );
      return;
    }
    const payload = { taskId: task.id, workspaceId: task.workspace_id };
    for (let attempt = 0; ; attempt++) {
      try {
        await deps.github.repositoryDispatch(repo, dispatchEventType, payload);
        deps.log.info({ task: task.id, repo }, 'started the GitHub Actions worker (repository_dispatch)');
        return;
      } catch (err) {
        const delay = retryDelaysMs[attempt];
        if (!(err instanceof GitHubError) || !err.transient || delay === undefined) throw err;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  } catch (err) {
    deps.log.warn(
      { task: task.id, repo, status: (err as GitHubError).status, err: (err as Error).message },
      'could not start the GitHub Actions worker; the task stays pending',
    );
  }
}

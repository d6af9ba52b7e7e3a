import type { Logger } from 'pino';
import type { Queryable } from '../db/index.ts';
import type { TaskRow } from '../db/rows.ts';
import { readWorkspaceGithub } from '../store/workspace-github.ts';
import type { GitHubAccess } from './access.ts';
import { GitHubError } from './client.ts';

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
  deps: { db: Queryable; log: Logger; github: GitHubAccess },
  task: Pick<TaskRow, 'id' | 'workspace_id' | 'runner_preference'>,
): Promise<void> {
  if (task.runner_preference !== 'action') return;
  let repo: string | undefined;
  try {
    const workspace = await readWorkspaceGithub(deps.db, task.workspace_id);
    repo = workspace.repo;
    if (!repo) return;
    // The workspace's own token, else the server's; neither is a non-transient error, logged below.
    const github = deps.github.clientFor(workspace.tokenSealed);
    const payload = { taskId: task.id, workspaceId: task.workspace_id };
    for (let attempt = 0; ; attempt++) {
      try {
        await github.repositoryDispatch(repo, dispatchEventType, payload);
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

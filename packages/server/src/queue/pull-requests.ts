import type { Queryable } from '../db/index.ts';

/** The task's `pull_request` (the protocol's TaskPullRequest) from a `pull_requests` row named `p`. */
const shownOnTask = `jsonb_build_object('state', p.state, 'url', p.url, 'number', p.number, 'error', p.error,
  'attempts', p.attempts, 'updatedAt', p.updated_at)`;

// A completing PATCH asks for its task's pull request in its own statement: `buildd_finish_task` in
// update-worker.sql (same row, same `pull_request` shown on the task as `shownOnTask` below).

/** A pull request to open or update, with what it needs from its task and workspace. */
export interface DuePullRequest {
  task_id: string;
  head: string;
  commit_sha: string | null;
  number: number | null;
  pr_head: string | null;
  attempts: number;
  generation: number;
  title: string;
  summary: string | null;
  repo: string | null;
  default_branch: string;
  draft: boolean;
  github_token_sealed: string | null;
}

/**
 * Takes up to `limit` due pull requests for this replica: FOR UPDATE SKIP LOCKED so two replicas never sync
 * the same one, and a lease (`locked_until`) so the GitHub calls run outside any transaction; a replica that
 * dies mid-sync leaves the row to be taken again when the lease ends. Counts the attempt.
 */
export async function takeDuePullRequests(
  db: Queryable,
  limit: number,
  leaseSeconds: number,
): Promise<DuePullRequest[]> {
  return db.query<DuePullRequest>(
    `WITH due AS (
       SELECT task_id FROM pull_requests
        WHERE state = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
        ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED),
     taken AS (
       UPDATE pull_requests p SET locked_until = now() + make_interval(secs => $2), attempts = p.attempts + 1
         FROM due WHERE p.task_id = due.task_id RETURNING p.*)
     SELECT p.task_id, p.head, p.commit_sha, p.number, p.pr_head, p.attempts, p.generation,
            t.title, t.result ->> 'summary' AS summary, w.config ->> 'githubRepo' AS repo, w.default_branch,
            COALESCE((w.config ->> 'draftPullRequests')::boolean, true) AS draft, w.github_token_sealed
       FROM taken p JOIN tasks t ON t.id = p.task_id JOIN workspaces w ON w.id = t.workspace_id`,
    [limit, leaseSeconds],
  );
}

/** How one sync ended: GitHub's pull request, or an error and when to try again (null: give up). */
export type PullRequestOutcome =
  | { ok: true; number: number; url: string; head: string }
  | { ok: false; error: string; retryMs: number | null };

/**
 * Records a sync and shows it on the task (`pull_request`, and `result.prUrl` once there is one), moving the
 * task's `updated_at` so feeds and streams see it. A sync overtaken by a newer completion (another
 * generation) stores what it learnt of the pull request but leaves the row pending for the newer one.
 */
export async function recordPullRequestOutcome(
  db: Queryable,
  due: Pick<DuePullRequest, 'task_id' | 'generation'>,
  outcome: PullRequestOutcome,
): Promise<void> {
  const ok = outcome.ok ? outcome : undefined;
  const failed = outcome.ok ? undefined : outcome;
  await db.query(
    `WITH p AS (
       UPDATE pull_requests SET locked_until = NULL, updated_at = now(),
              number = COALESCE($3::integer, number), url = COALESCE($4::text, url),
              pr_head = COALESCE($5::text, pr_head),
              error = CASE WHEN generation = $2 THEN $6::text ELSE error END,
              state = CASE WHEN generation <> $2 THEN state
                           WHEN $3::integer IS NOT NULL THEN 'open'
                           WHEN $7::double precision IS NULL THEN 'failed' ELSE 'pending' END,
              next_attempt_at = CASE WHEN generation = $2 AND $7::double precision IS NOT NULL
                                     THEN now() + make_interval(secs => $7::double precision / 1000)
                                     ELSE next_attempt_at END
        WHERE task_id = $1 RETURNING *)
     UPDATE tasks t SET pull_request = ${shownOnTask}, updated_at = now(),
            result = CASE WHEN t.result IS NOT NULL AND p.url IS NOT NULL
                          THEN jsonb_set(t.result, '{prUrl}', to_jsonb(p.url)) ELSE t.result END
       FROM p WHERE t.id = p.task_id`,
    [
      due.task_id,
      due.generation,
      ok?.number ?? null,
      ok?.url ?? null,
      ok?.head ?? null,
      failed?.error ?? null,
      failed?.retryMs ?? null,
    ],
  );
}

/** Gives back a pull request taken but not synced (the server is stopping): due again at once, the attempt uncounted. */
export async function releasePullRequest(
  db: Queryable,
  due: Pick<DuePullRequest, 'task_id' | 'generation'>,
): Promise<void> {
  await db.query(
    `UPDATE pull_requests SET locked_until = NULL, attempts = GREATEST(attempts - 1, 0)
      WHERE task_id = $1 AND generation = $2`,
    [due.task_id, due.generation],
  );
}

import type { Logger } from 'pino';
import type { Db } from '../db/index.ts';
import type { Bus } from '../events/bus.ts';
import { retryDelayMs, Sweeps } from '../events/sweeps.ts';
import {
  type DuePullRequest,
  type PullRequestOutcome,
  recordPullRequestOutcome,
  releasePullRequest,
  takeDuePullRequests,
} from '../queue/pull-requests.ts';
import type { GitHubAccess } from './access.ts';
import { GitHubError } from './client.ts';
import { pullRequestText } from './pull-request-text.ts';
import { syncPullRequest } from './sync-pull-request.ts';

export interface PullRequestSettings {
  /** The wait before the second attempt; each later one doubles (with jitter), up to ten minutes. */
  retryBaseMs: number;
  /** Attempts before the pull request is marked failed (a person can send a follow-up to try again). */
  maxAttempts: number;
  /** How often due pull requests are looked for (changes also wake the sender). */
  pollMs: number;
}

/** About 40 minutes of retries (10 s, 20 s, 40 s … 10 min): a GitHub outage, not a typo, gets waited out. */
export const defaultPullRequestSettings: PullRequestSettings = {
  retryBaseMs: 10_000,
  maxAttempts: 10,
  pollMs: 5000,
};

const batch = 4;

/**
 * Opens and updates the pull requests of completed tasks (rows the final PATCH's transaction wrote, see
 * queue/pull-requests.ts). Each replica runs one; rows are shared out with SKIP LOCKED and a lease, so one
 * replica at a time works on a task's pull request, never on a request's time, and a row left by a server
 * that stopped is taken up by the next sweep. GitHub's failures are retried with backoff, logged (never the
 * token) and shown on the task; they never change the task's own state.
 */
export class PullRequestSender {
  private readonly sweeps: Sweeps;
  private readonly stopping = new AbortController();

  constructor(
    private readonly db: Db,
    bus: Bus,
    private readonly github: GitHubAccess,
    private readonly settings: PullRequestSettings,
    private readonly publicUrl: () => string,
    private readonly log: Logger,
  ) {
    // A final PATCH commits a change (here or on another replica): its pull request may be due.
    this.sweeps = new Sweeps(
      bus,
      settings.pollMs,
      () => this.round(),
      (err) => this.log.warn({ err: err.message }, 'pull request round failed'),
    );
  }

  /** Looks for due pull requests now. */
  wake(): void {
    this.sweeps.wake();
  }

  /** One sweep; `true` when it took a full batch. */
  private async round(): Promise<boolean> {
    // Three GitHub calls at most, 10 s each, and room to record the outcome.
    const due = await takeDuePullRequests(this.db, batch, 60);
    await Promise.all(due.map((d) => this.sync(d)));
    return due.length === batch;
  }

  private async sync(d: DuePullRequest): Promise<void> {
    let outcome: PullRequestOutcome;
    try {
      if (!d.repo) throw new GitHubError('The workspace no longer names a githubRepo.', undefined, false);
      const text = pullRequestText({
        taskId: d.task_id,
        title: d.title,
        summary: d.summary,
        head: d.head,
        commitSha: d.commit_sha,
        publicUrl: this.publicUrl(),
      });
      const pr = await syncPullRequest(
        this.github.clientFor(d.github_token_sealed, this.stopping.signal),
        { ...d, repo: d.repo },
        text,
      );
      outcome = { ok: true, number: pr.number, url: pr.url, head: d.head };
      this.log.info({ task: d.task_id, repo: d.repo, pr: pr.number }, 'pull request opened or updated');
    } catch (err) {
      // Stopped mid-sync: given back below, for the next sweep (this or another replica).
      if (this.sweeps.stopped) return this.giveBack(d);
      const transient = !(err instanceof GitHubError) || err.transient;
      const retry = transient && d.attempts < this.settings.maxAttempts;
      const error = (err as Error).message.slice(0, 1000);
      outcome = {
        ok: false,
        error,
        retryMs: retry ? retryDelayMs(d.attempts, this.settings.retryBaseMs, 600_000) : null,
      };
      this.log.warn(
        {
          task: d.task_id,
          repo: d.repo,
          attempt: d.attempts,
          status: (err as GitHubError).status,
          err: error,
        },
        retry ? 'pull request not opened; trying again later' : 'pull request not opened; gave up',
      );
    }
    await recordPullRequestOutcome(this.db, d, outcome);
  }

  /** A sync cut short by stop(): the row is free again at once (a server killed outright leaves its lease to expire). */
  private async giveBack(d: DuePullRequest): Promise<void> {
    await releasePullRequest(this.db, d).catch((err) =>
      this.log.warn({ task: d.task_id, err: (err as Error).message }, 'could not give a pull request back'),
    );
  }

  async stop(): Promise<void> {
    const swept = this.sweeps.stop(); // stopped first: a call the abort cuts short gives its row back
    this.stopping.abort();
    await swept;
  }
}

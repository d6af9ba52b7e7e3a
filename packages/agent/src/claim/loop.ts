import type { ClaimBody, ClaimedWorker } from '@buildd/protocol';
import { backoffDelay, sleep } from '../backoff.ts';
import type { Outbox } from '../delivery/outbox.ts';
import type { Log } from '../log.ts';
import type { BuilddClient } from '../server/client.ts';
import { ServerRequestError } from '../server/request-error.ts';
import { FailureGuard } from './failure-guard.ts';
import type { WorkerInput } from './run-server.ts';
import { type AbortCause, type SessionDeps, type SessionResult, WorkerSession } from './worker-session.ts';

/** What wakes a waiting loop: a run ended (a slot is free), or the server hinted at new tasks. */
export type WakeKind = 'slot' | 'hint';

/** What the claim loop needs. */
export interface LoopOptions {
  client: BuilddClient;
  log: Log;
  session: SessionDeps;
  /** The claim body minus the parts the loop decides (`maxTasks`, `waitSeconds`, `excludeTaskIds`). */
  claim: Omit<ClaimBody, 'maxTasks' | 'waitSeconds' | 'excludeTaskIds'>;
  maxTasks: number;
  pollIntervalMs: number;
  /** Don't claim a task this agent just failed for this long (no burn loops). */
  failureCooldownMs?: number;
  /** How far past the end of its longest expected wait the loop may be before it counts as stalled. */
  stallGraceMs?: number;
}

type ClaimResult = 'claimed' | 'empty' | 'unreachable' | 'limited' | 'fatal';

/**
 * The claim loop: claims at start, long-polls every poll interval, claims again as soon as a run ends
 * or the server hints; never holds more than `maxTasks` runs; waits out 429s; backs off with jitter
 * while the server is unreachable; and stops claiming after repeated failures.
 */
export class ClaimLoop {
  readonly sessions = new Map<string, WorkerSession>();
  /** Outboxes still delivering a final report in the background. */
  readonly background = new Set<Outbox>();
  #reserved = 0;
  #stopping = new AbortController();
  #waiter: { accept: readonly WakeKind[]; resolve: () => void } | undefined;
  #missed = new Set<WakeKind>();
  #pauseUntil = 0;
  #pauseOnSlot = false;
  #limitKey = '';
  #unreachable = 0;
  readonly #failures: FailureGuard;
  #runs = new Set<Promise<void>>();
  #claims = new Set<Promise<ClaimResult>>();
  /** Set when the server refuses the agent for good (bad key, not a buildd server). */
  fatal: Error | undefined;
  /** How often the watchdog restarted a stalled loop. */
  restarts = 0;
  #alive = false;
  /** When the loop must next come round (after the claim or wait it is in); later = stalled. */
  #dueBy = 0;
  #round = new AbortController();
  #emptyReason = '';

  constructor(private readonly options: LoopOptions) {
    this.#failures = new FailureGuard(options.failureCooldownMs);
  }

  /**
   * Claims until `stop()`. Resolves when claiming has stopped (runs may still be going). A loop the
   * watchdog finds stalled is left behind (whatever it awaits can still finish) and a new one starts.
   */
  async claimUntilStopped(): Promise<void> {
    this.#alive = true;
    try {
      while (!this.#stopping.signal.aborted) {
        const round = new AbortController();
        this.#round = round;
        const restarted = new Promise<void>((resolve) =>
          round.signal.addEventListener('abort', () => resolve()),
        );
        await Promise.race([this.#claimRounds(round.signal), restarted]);
        if (!round.signal.aborted || this.#stopping.signal.aborted) break;
        this.restarts += 1;
      }
    } finally {
      this.#alive = false;
    }
  }

  /** Whether the loop is running and came round in time. */
  get alive(): boolean {
    return this.#alive && this.stalledForMs() === 0;
  }

  /** How long the loop is overdue (0 while it keeps to its schedule). */
  stalledForMs(): number {
    return this.#alive && this.#dueBy > 0 ? Math.max(0, Date.now() - this.#dueBy) : 0;
  }

  /** Abandons the current round and starts claiming afresh (the watchdog's remedy for a stall). */
  restart(): void {
    this.#dueBy = 0;
    // The abandoned claim keeps no slots and is not waited for at shutdown; should it still answer,
    // the tasks it brings are run (the server has assigned them), briefly above maxTasks.
    this.#reserved = 0;
    this.#claims.clear();
    this.#round.abort();
  }

  /** Undelivered entries of every spool this loop knows (running and finished workers). */
  get spoolDepth(): number {
    let depth = 0;
    for (const session of this.sessions.values()) depth += session.pendingEntries;
    for (const outbox of this.background) depth += outbox.spool.pending().length;
    return depth;
  }

  #due(ms: number): void {
    this.#dueBy = Date.now() + Math.max(0, ms) + (this.options.stallGraceMs ?? 30_000);
  }

  async #claimRounds(round: AbortSignal): Promise<void> {
    const { pollIntervalMs } = this.options;
    while (!this.#stopping.signal.aborted && !round.aborted) {
      const paused = this.#pauseUntil - Date.now();
      if (paused > 0) {
        await this.#wait(paused, this.#pauseOnSlot ? ['slot'] : []);
        continue;
      }
      if (this.#free() <= 0) {
        await this.#wait(pollIntervalMs, ['slot']);
        continue;
      }
      const startedAt = Date.now();
      this.#missed.clear();
      const waitSeconds = Math.min(30, Math.floor(pollIntervalMs / 1000));
      // The client gives a long poll waitSeconds + 10 s before it times out.
      this.#due((waitSeconds + 10) * 1000);
      const result = await this.#claim(waitSeconds);
      if (round.aborted) return;
      if (result === 'fatal') break;
      if (result === 'empty') await this.#wait(pollIntervalMs - (Date.now() - startedAt), ['slot', 'hint']);
      if (result === 'unreachable') await this.#wait(backoffDelay(this.#unreachable - 1), ['hint']);
    }
  }

  /** Whether a claim request is waiting for its answer. */
  get claimInFlight(): boolean {
    return this.#claims.size > 0;
  }

  /** Claim now: a run ended, or the push channel said tasks are waiting. */
  wake(kind: WakeKind): void {
    if (kind === 'slot' && this.#pauseOnSlot) this.#pauseUntil = 0;
    if (this.#waiter?.accept.includes(kind)) this.#waiter.resolve();
    else this.#missed.add(kind);
    // A slot freed while a long poll is in flight: claim it at once instead of after the poll.
    if (kind === 'slot' && this.#reserved > 0 && this.#free() > 0 && this.#pauseUntil <= Date.now()) {
      void this.#claim(0);
    }
  }

  /** Hands pushed input (an answer, a message) to the run of its worker, if this agent runs it. */
  deliver(input: WorkerInput): void {
    this.sessions.get(input.workerId)?.receive(input);
  }

  /** Stops the run of `workerId` (push channel `cancel`). */
  cancel(workerId: string, cause: AbortCause): void {
    this.sessions.get(workerId)?.abort(cause);
  }

  /**
   * Stops claiming. Resolves when no claim request is in flight. An in-flight claim is not aborted:
   * the server may already have assigned tasks in answer to it, and only an answer read here lets
   * the agent give them back at once (a task assigned to an agent that never reads the answer waits
   * for its lease to expire).
   */
  async stopClaiming(): Promise<void> {
    this.#stopping.abort();
    this.#waiter?.resolve();
    // Bounded: a claim that never settles (what the watchdog restarts the loop for) must not hang the exit.
    const bound = sleep(70_000);
    while (this.#claims.size > 0) {
      if (
        (await Promise.race([Promise.all([...this.#claims]), bound.then(() => 'late' as const)])) === 'late'
      )
        return;
    }
  }

  /** Resolves when every run has ended and reported (or left its report on disk). */
  async runsEnded(): Promise<void> {
    while (this.#runs.size > 0) await Promise.all([...this.#runs]);
  }

  #free(): number {
    return this.options.maxTasks - this.sessions.size - this.#reserved;
  }

  #claim(waitSeconds: number): Promise<ClaimResult> {
    // Runs ending during shutdown free slots too: they must not lead to new claims.
    if (this.#stopping.signal.aborted) return Promise.resolve('empty');
    const claim = this.#claimOnce(waitSeconds, this.#round.signal).finally(() => this.#claims.delete(claim));
    this.#claims.add(claim);
    return claim;
  }

  async #claimOnce(waitSeconds: number, round: AbortSignal): Promise<ClaimResult> {
    const { client, log } = this.options;
    const free = this.#free();
    if (free <= 0) return 'empty';
    this.#reserved += free;
    let workers: ClaimedWorker[];
    try {
      const excludeTaskIds = this.#failures.excludedTaskIds();
      const answer = await client.claim({
        ...this.options.claim,
        maxTasks: free,
        waitSeconds,
        ...(excludeTaskIds.length ? { excludeTaskIds } : {}),
      });
      workers = answer.workers;
      if (this.#unreachable > 0) log('info', 'buildd server reachable again');
      this.#unreachable = 0;
      if (workers.length > 0) this.#emptyReason = '';
      else if (answer.diagnostics) this.#explainEmpty(answer.diagnostics);
    } catch (error) {
      return this.#claimFailed(error);
    } finally {
      if (!round.aborted) this.#reserved -= free;
    }
    for (const worker of workers) this.#start(worker);
    return workers.length > 0 ? 'claimed' : 'empty';
  }

  /** Says once, in the log, why claims come back empty: the operator may have to fix something. */
  #explainEmpty(diagnostics: { reason: string; message: string }): void {
    if (diagnostics.reason === this.#emptyReason) return;
    this.#emptyReason = diagnostics.reason;
    // An idle queue is normal; anything else (no workspace, no matching capability…) needs a person.
    const level = diagnostics.reason === 'no_pending_tasks' ? 'debug' : 'warn';
    this.options.log(level, `cannot claim: ${diagnostics.message}`, { reason: diagnostics.reason });
  }

  #claimFailed(error: unknown): ClaimResult {
    const { log } = this.options;
    const e =
      error instanceof ServerRequestError
        ? error
        : new ServerRequestError({ failure: 'transient', message: String(error) });
    switch (e.failure) {
      case 'limit': {
        const seconds = Math.max(1, e.retryAfterSeconds ?? 60);
        this.#pauseUntil = Date.now() + seconds * 1000;
        // Our own runs count toward these two limits: one ending may free a slot before the reset.
        this.#pauseOnSlot = e.code === 'concurrency_limit' || e.code === 'session_limit';
        const key = `${e.code}|${e.resetsAt ?? ''}`;
        if (key !== this.#limitKey) {
          log('warn', 'claims paused by a limit', {
            limit: e.code,
            retryAfterSeconds: seconds,
            resetsAt: e.resetsAt,
          });
          this.#limitKey = key;
        }
        return 'limited';
      }
      case 'fatal':
      case 'rejected':
      case 'not_found':
        this.fatal = new Error(
          e.failure === 'not_found' ? `${e.message}: is --server a buildd server?` : e.message,
        );
        log('error', 'the server refuses this agent; stopping', { error: this.fatal.message });
        this.#stopping.abort();
        return 'fatal';
      case 'transient':
      case 'conflict':
      case 'protocol':
        this.#unreachable += 1;
        if (this.#unreachable === 1 || e.failure === 'protocol') {
          log(e.failure === 'protocol' ? 'error' : 'warn', 'claim failed; retrying with backoff', {
            error: e.message,
          });
        } else {
          log('debug', 'claim failed again', { error: e.message, attempt: this.#unreachable });
        }
        return 'unreachable';
    }
  }

  #start(worker: ClaimedWorker): void {
    const { log } = this.options;
    const session = new WorkerSession(worker, this.options.session);
    this.sessions.set(worker.id, session);
    // Claimed while stopping: the run never starts and the task goes back at once.
    if (this.#stopping.signal.aborted) session.abort('shutdown');
    log('info', 'claimed task', { worker: worker.id, task: worker.taskId, title: worker.task.title });
    const ended = session
      .execute()
      .then((result) => this.#ended(worker, result))
      .catch((error: unknown) => log('error', 'worker session failed', { worker: worker.id, error }))
      .finally(() => {
        this.sessions.delete(worker.id);
        this.#runs.delete(ended);
        this.wake('slot');
      });
    this.#runs.add(ended);
  }

  #ended(worker: ClaimedWorker, result: SessionResult): void {
    if (result.delivery === 'pending') {
      this.background.add(result.outbox);
      void result.outbox.drain().finally(() => this.background.delete(result.outbox));
    }
    const cause = result.outcome.exitCause;
    const { pauseMs, failedRuns } = this.#failures.record(worker.taskId, result.status, cause);
    if (pauseMs > 0) {
      this.#pauseUntil = Math.max(this.#pauseUntil, Date.now() + pauseMs);
      this.#pauseOnSlot = false;
      this.options.log('warn', 'several runs failed in a row; pausing claims', {
        failedRuns,
        lastExitCause: cause,
        pauseSeconds: Math.round(pauseMs / 1000),
      });
    }
  }

  /** Waits `ms`, or less if woken by one of `accept` (also one that came while not waiting) or stop. */
  async #wait(ms: number, accept: readonly WakeKind[]): Promise<void> {
    if (ms <= 0 || this.#stopping.signal.aborted) return;
    this.#due(ms);
    if (accept.some((k) => this.#missed.has(k))) {
      this.#missed.clear();
      return;
    }
    const woken = new AbortController();
    this.#waiter = { accept, resolve: () => woken.abort() };
    await sleep(ms, AbortSignal.any([woken.signal, this.#stopping.signal, this.#round.signal]));
    this.#waiter = undefined;
  }
}

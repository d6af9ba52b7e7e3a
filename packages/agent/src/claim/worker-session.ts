import { type ClaimedWorker, limits, type PatchWorkerBody } from '@buildd/protocol';
import { type DeliveryState, Outbox } from '../delivery/outbox.ts';
import { Spool } from '../delivery/spool.ts';
import { childLog, type Log } from '../log.ts';
import type { Redact } from '../redact.ts';
import type { RunContext, RunOutcome, RunReporter, RunSettings } from '../run/types.ts';
import type { BuilddClient } from '../server/client.ts';
import { ServerRequestError } from '../server/request-error.ts';
import { runServerFor, type WorkerInput, type WorkerRunServer } from './run-server.ts';

/** Why the agent stops a run before it ends by itself. */
export type AbortCause = 'cancelled' | 'cost_limit' | 'lease_lost' | 'shutdown' | 'timeout';

/** The run function (`runTask` from run.ts; injectable so tests can script a run). */
export type RunTask = (worker: ClaimedWorker, ctx: RunContext) => Promise<RunOutcome>;

/** What a session needs from the agent. */
export interface SessionDeps {
  client: BuilddClient;
  runTask: RunTask;
  log: Log;
  /** Replaces every known secret; applied to each event and report before it is spooled or sent. */
  redact?: Redact;
  /** Passed to every run as is. */
  runSettings: RunSettings;
  flushMs?: number;
  progressMs?: number;
  /** How long `execute()` waits for the final report before leaving it to the background outbox. */
  finalDeliveryMs?: number;
  /** How often a run asks for answers and messages a push may have missed (default 10 s). */
  inputPollMs?: number;
}

/** The end of a session: the run's outcome and whether the server has the final report yet. */
export interface SessionResult {
  outcome: RunOutcome;
  status: 'completed' | 'failed' | 'cancelled';
  delivery: DeliveryState;
  /** Still delivering in the background when `delivery` is `pending`. */
  outbox: Outbox;
}

/** Maps the server's abort reasons onto the agent's. */
export function abortCauseOf(reason: string): AbortCause {
  if (reason === 'cancelled' || reason === 'cost_limit') return reason;
  return 'lease_lost';
}

const clip = (text: string | undefined) => text?.slice(0, limits.text);

/**
 * One claimed worker from claim to final report: runs the task, numbers and batches its events
 * into the spool, throttles progress PATCHes, renews the lease on its own timer (a long silent tool
 * call must not look like a dead agent), and stops the run when the server or the operator says so.
 */
export class WorkerSession {
  readonly #abort = new AbortController();
  readonly #log: Log;
  #latest: PatchWorkerBody = {};
  #dirty = false;
  #started = false;
  #patching: Promise<void> | undefined;
  #outbox: Outbox | undefined;
  #abandon: ((why: string) => void) | undefined;
  #server: WorkerRunServer | undefined;
  /** Input pushed before the run started. */
  #early: WorkerInput[] = [];
  /** Whether the watchdog gave up on the run. */
  abandoned = false;
  /** When the run started (performance.now()), for the watchdog's hard timeout; 0 before. */
  startedAt = 0;

  constructor(
    readonly worker: ClaimedWorker,
    private readonly deps: SessionDeps,
  ) {
    this.#log = childLog(deps.log, { worker: worker.id, task: worker.taskId });
  }

  /** Stops the run with `cause` (the first cause wins). */
  abort(cause: AbortCause): void {
    if (this.#abort.signal.aborted) return;
    this.#log('info', 'stopping run', { cause });
    this.#abort.abort(cause);
  }

  /** Input for this run from the push channel (an answer, a person's message). */
  receive(input: WorkerInput): void {
    if (this.#server) this.#server.receive(input);
    else this.#early.push(input);
  }

  /** Undelivered entries of this worker's spool. */
  get pendingEntries(): number {
    return this.#outbox?.spool.pending().length ?? 0;
  }

  /**
   * The watchdog's last resort for a run past its hard timeout that did not stop when aborted: stop
   * waiting for it and report the worker failed/timeout, so its slot and its task are free again.
   */
  abandon(why: string): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.abort('timeout');
    this.#abandon?.(why);
  }

  /** Why the run was stopped, if it was. */
  get abortCause(): AbortCause | undefined {
    return this.#abort.signal.aborted ? (this.#abort.signal.reason as AbortCause) : undefined;
  }

  /** Runs the task and delivers its final report (or leaves it on disk). Never throws for run errors. */
  async execute(): Promise<SessionResult> {
    const { deps, worker } = this;
    const spool = await Spool.open(deps.runSettings.dataDir, worker.id);
    const outbox = new Outbox(spool, deps.client, this.#log, {
      onAbort: (reason) => this.abort(abortCauseOf(reason)),
    });
    this.#outbox = outbox;
    const timers = [
      setInterval(() => this.#flush(), deps.flushMs ?? 500),
      setInterval(() => this.#dirty && void this.#sendProgress(), deps.progressMs ?? 1000),
      // Its own timer: the lease is renewed even when the run reports nothing for a long time.
      setInterval(() => void this.#sendProgress(), Math.max(0.1, worker.renewSeconds) * 1000),
    ];
    let outcome: RunOutcome;
    try {
      if (this.#abort.signal.aborted) {
        outcome = endedOutcome(
          worker,
          'the agent was shutting down when this task was claimed',
          this.#latest,
        );
      } else {
        await this.#sendProgress();
        outcome = await this.#runTask();
      }
    } finally {
      for (const timer of timers) clearInterval(timer);
    }
    // No progress PATCH may land after the final one.
    await this.#patching;
    const body = this.#redact(finalReport(outcome, this.abortCause));
    // Queued behind every event already written, so it cannot overtake them.
    await outbox.append({ kind: 'patch', body, final: true });
    const delivery = await outbox.settle(deps.finalDeliveryMs ?? 10_000);
    this.#log(delivery === 'pending' ? 'warn' : 'info', 'run finished', {
      status: body.status,
      exitCause: body.exitCause,
      costUsd: outcome.costUsd,
      turns: outcome.turns,
      reported: delivery === 'pending' ? 'later (kept on disk)' : delivery,
    });
    return { outcome, status: body.status as SessionResult['status'], delivery, outbox };
  }

  async #runTask(): Promise<RunOutcome> {
    const reporter: RunReporter = {
      event: (type, data) => {
        const outbox = this.#outbox;
        if (!outbox) return;
        // On disk at once, on the wire with the next flush: a killed agent replays it at its next start.
        const event = {
          seq: outbox.spool.nextSeq(),
          type,
          at: new Date().toISOString(),
          data: this.#redact(data),
        };
        outbox.record({ kind: 'events', events: [event] }).catch((error: unknown) => {
          this.#log('error', 'cannot write events to the spool', { error });
        });
        if (outbox.spool.pending().length >= 100) this.#flush();
      },
      progress: (p) => {
        const { status: _status, ...totals } = p;
        Object.assign(this.#latest, totals);
        this.#dirty = true;
      },
    };
    const server = runServerFor(this.worker, {
      client: this.deps.client,
      dataDir: this.deps.runSettings.dataDir,
      log: this.#log,
      reporter,
      pollMs: this.deps.inputPollMs,
      redact: this.deps.redact,
    });
    this.#server = server;
    for (const input of this.#early.splice(0)) server.receive(input);
    const ctx: RunContext = {
      ...this.deps.runSettings,
      signal: this.#abort.signal,
      reporter,
      log: this.#log,
      server,
    };
    const abandoned = new Promise<RunOutcome>((resolve) => {
      this.#abandon = (why) => resolve(endedOutcome(this.worker, why, this.#latest, 'timeout'));
    });
    this.startedAt = performance.now();
    try {
      return await Promise.race([this.deps.runTask(this.worker, ctx), abandoned]);
    } catch (error) {
      // runTask should report failures as an outcome; if it throws, the worker must still end.
      this.#log('error', 'run crashed', { error });
      return endedOutcome(this.worker, error instanceof Error ? error.message : String(error), this.#latest);
    }
  }

  #redact<T>(value: T): T {
    return this.deps.redact ? this.deps.redact(value) : value;
  }

  /** Starts delivering what the spool holds (events are already on disk; see `reporter.event`). */
  #flush(): void {
    if (this.#outbox && this.#outbox.spool.pending().length > 0) void this.#outbox.drain();
  }

  /** Sends the latest totals (cumulative, so only the newest matters) and renews the lease. */
  #sendProgress(): Promise<void> {
    if (this.#patching) return this.#patching;
    const first = this.#started
      ? {}
      : { status: 'running' as const, sandboxed: this.deps.runSettings.sandbox !== null };
    const body: PatchWorkerBody = this.#redact({ ...this.#latest, ...first });
    this.#dirty = false;
    this.#patching = this.deps.client
      .patchWorker(this.worker.id, body)
      .then((answer) => {
        this.#started = true;
        if (answer.abort) this.abort(abortCauseOf(answer.reason));
      })
      .catch((error: unknown) => {
        this.#dirty = true;
        if (
          error instanceof ServerRequestError &&
          (error.failure === 'conflict' || error.failure === 'not_found')
        ) {
          this.abort('lease_lost');
        } else {
          this.#log('debug', 'progress update failed', { error });
        }
      })
      .finally(() => {
        this.#patching = undefined;
      });
    return this.#patching;
  }
}

/** The final PATCH. A run stopped by shutdown ends `failed` with exit cause `shutdown`, as DESIGN §5 says. */
export function finalReport(outcome: RunOutcome, cause: AbortCause | undefined): PatchWorkerBody {
  const shutdown = cause === 'shutdown' && outcome.status !== 'completed';
  return {
    status: shutdown ? 'failed' : outcome.status,
    exitCause: shutdown ? 'shutdown' : outcome.exitCause,
    error: clip(outcome.error ?? (shutdown ? 'the agent shut down before the run ended' : undefined)),
    summary: clip(outcome.summary),
    branch: outcome.branch,
    commitSha: outcome.commitSha,
    filesChanged: outcome.filesChanged,
    linesAdded: outcome.linesAdded,
    linesRemoved: outcome.linesRemoved,
    costUsd: outcome.costUsd,
    turns: outcome.turns,
    inputTokens: outcome.inputTokens,
    outputTokens: outcome.outputTokens,
    cacheReadTokens: outcome.cacheReadTokens,
    currentAction: null,
  };
}

/**
 * The outcome of a run that threw or never started, keeping the totals it had reported (that cost
 * was really spent). `finalReport` turns it into failed/shutdown when the agent was stopping.
 */
function endedOutcome(
  worker: ClaimedWorker,
  error: string,
  totals: PatchWorkerBody,
  exitCause: 'error' | 'timeout' = 'error',
): RunOutcome {
  return {
    status: 'failed',
    exitCause,
    error,
    branch: worker.branch,
    costUsd: totals.costUsd ?? 0,
    turns: totals.turns ?? 0,
    inputTokens: totals.inputTokens ?? 0,
    outputTokens: totals.outputTokens ?? 0,
    cacheReadTokens: totals.cacheReadTokens ?? 0,
    timings: { prepareMs: 0, sdkMs: 0, finishMs: 0 },
  };
}

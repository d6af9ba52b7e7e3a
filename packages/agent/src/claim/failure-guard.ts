import { backoffDelay } from '../backoff.ts';

/** What the guard decides after a run: nothing, or pause claiming for `pauseMs`. */
export interface FailureVerdict {
  pauseMs: number;
  failedRuns: number;
}

/**
 * Keeps an agent out of burn loops: a task it just failed is excluded from its claims for a
 * cool-down (sent as `excludeTaskIds`), and after several failed runs in a row — a bad credential
 * or a broken machine fails every task — claiming pauses with a growing backoff.
 */
export class FailureGuard {
  #excluded = new Map<string, number>();
  #failedRuns = 0;

  constructor(
    private readonly cooldownMs = 10 * 60_000,
    private readonly failuresBeforePause = 3,
  ) {}

  /** Records how a run of `taskId` ended; says whether to pause claiming. */
  record(taskId: string, status: 'completed' | 'failed' | 'cancelled', exitCause: string): FailureVerdict {
    if (status === 'completed') this.#failedRuns = 0;
    // Shutdown and lost leases say nothing about the task or this machine.
    if (status !== 'failed' || exitCause === 'shutdown' || exitCause === 'lost') {
      return { pauseMs: 0, failedRuns: this.#failedRuns };
    }
    this.#excluded.set(taskId, Date.now() + this.cooldownMs);
    this.#failedRuns += 1;
    const over = this.#failedRuns - this.failuresBeforePause;
    const pauseMs = over < 0 ? 0 : backoffDelay(over, { baseMs: 30_000, maxMs: 10 * 60_000 });
    return { pauseMs, failedRuns: this.#failedRuns };
  }

  /** Tasks still in their cool-down (at most 1,000, the newest). */
  excludedTaskIds(): string[] {
    const now = Date.now();
    for (const [taskId, until] of this.#excluded) if (until <= now) this.#excluded.delete(taskId);
    return [...this.#excluded.keys()].slice(-1000);
  }
}

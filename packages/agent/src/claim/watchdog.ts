import type { Log } from '../log.ts';
import type { ClaimLoop } from './loop.ts';

/** Options of `startWatchdog`. */
export interface WatchdogOptions {
  loop: ClaimLoop;
  log: Log;
  /** A run still going this long after it started is abandoned: the run's own timeout plus a margin. */
  hardTimeoutMs: number;
  intervalMs?: number;
}

/**
 * Auto-recovery: every few seconds, restarts a claim loop that is overdue (it awaits something that
 * never ends), and abandons a run past its hard timeout (its own timeout fired, but it did not stop):
 * the worker is reported failed/timeout and its slot is free again. Returns the function that stops it.
 */
export function startWatchdog(options: WatchdogOptions): () => void {
  const { loop, log } = options;
  const timer = setInterval(() => {
    const stalledMs = loop.stalledForMs();
    if (stalledMs > 0) {
      log('error', 'the claim loop is stalled; restarting it', {
        overdueSeconds: Math.round(stalledMs / 1000),
      });
      loop.restart();
    }
    for (const session of loop.sessions.values()) {
      const runningMs = session.startedAt ? performance.now() - session.startedAt : 0;
      if (runningMs > options.hardTimeoutMs && !session.abandoned) {
        log('error', 'a run is past its hard timeout; abandoning it', {
          worker: session.worker.id,
          runningMinutes: Math.round(runningMs / 6_000) / 10,
        });
        session.abandon(
          `the run did not stop after its time limit; the agent gave up on it after ${Math.round(runningMs / 60_000)} min`,
        );
      }
    }
  }, options.intervalMs ?? 5_000);
  timer.unref();
  return () => clearInterval(timer);
}

import { sleep } from '../backoff.ts';
import type { Outbox } from '../delivery/outbox.ts';
import type { Log } from '../log.ts';
import type { ClaimLoop } from './loop.ts';

/**
 * The shutdown of DESIGN §5: stop claiming, let running tasks finish for the grace period, then
 * abort the rest (they report failed with exit cause `shutdown`, which gives the task back). A run
 * that ignores its abort for `abortWaitMs` is left behind rather than hanging the exit.
 */
export async function stopRuns(
  loop: ClaimLoop,
  graceMs: number,
  abortWaitMs: number,
  log: Log,
): Promise<void> {
  if (loop.claimInFlight)
    log('info', 'waiting for the claim request in flight, so no task is left assigned here');
  await loop.stopClaiming();
  const running = loop.sessions.size;
  if (running > 0) {
    log('info', 'waiting for running tasks before exiting', { running, graceSeconds: graceMs / 1000 });
    await Promise.race([loop.runsEnded(), sleep(graceMs)]);
  }
  for (const session of loop.sessions.values()) session.abort('shutdown');
  const stopped = await Promise.race([
    loop.runsEnded().then(() => true),
    sleep(abortWaitMs).then(() => false),
  ]);
  if (!stopped) {
    log('error', 'some runs did not stop after being aborted; exiting anyway', {
      running: loop.sessions.size,
    });
  }
}

/** Gives pending reports a last `ms`, then leaves them on disk for the next start. */
export async function flushAll(outboxes: readonly Outbox[], ms: number): Promise<void> {
  await Promise.all(outboxes.map((o) => o.settle(ms)));
  for (const outbox of outboxes) outbox.close();
}

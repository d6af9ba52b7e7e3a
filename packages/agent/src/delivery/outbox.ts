import type { WorkerEventInput } from '@buildd/protocol';
import { backoffDelay, sleep } from '../backoff.ts';
import type { Log } from '../log.ts';
import type { BuilddClient } from '../server/client.ts';
import { ServerRequestError } from '../server/request-error.ts';
import type { Spool, SpoolEntry } from './spool.ts';

/** `delivered`: nothing pending; `gone`: the worker is no longer live, spool dropped; `pending`: retry later. */
export type DeliveryState = 'delivered' | 'gone' | 'pending';

const maxBatchEvents = 100;
// Well under the server's 1 MB body limit, so a batch of large tool results is never refused.
const maxBatchBytes = 512 * 1024;

/** Splits events into POST-sized batches. */
export function batchEvents(events: readonly WorkerEventInput[]): WorkerEventInput[][] {
  const batches: WorkerEventInput[][] = [];
  let batch: WorkerEventInput[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = JSON.stringify(event).length;
    if (batch.length > 0 && (batch.length >= maxBatchEvents || bytes + size > maxBatchBytes)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(event);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** The entry at `start`, merged with the event entries that directly follow it. */
function coalesceEvents(pending: readonly SpoolEntry[], start: number): { entry: SpoolEntry; count: number } {
  const first = pending[start]!;
  if (first.kind !== 'events') return { entry: first, count: 1 };
  const events = [...first.events];
  let count = 1;
  for (let next = pending[start + count]; next?.kind === 'events'; next = pending[start + count]) {
    events.push(...next.events);
    count += 1;
  }
  return { entry: { kind: 'events', events }, count };
}

/** Options of an `Outbox`. */
export interface OutboxOptions {
  /** Called when the worker must stop: a PATCH answered `abort: true`, or the worker is gone (409/404). */
  onAbort?: (reason: string) => void;
  /**
   * Delete the spool once everything is delivered even without a final report (a spool replayed
   * after a crash: its run is gone and will never add one).
   */
  dropWhenDelivered?: boolean;
}

/**
 * Delivers a spool's pending entries in order, one at a time, and stops at the first transient
 * failure (order matters: the final PATCH must not overtake the events before it).
 */
export class Outbox {
  #running: Promise<DeliveryState> | undefined;
  #again = false;
  #closed = new AbortController();
  #state: DeliveryState = 'delivered';

  constructor(
    readonly spool: Spool,
    private readonly client: BuilddClient,
    private readonly log: Log,
    private readonly options: OutboxOptions = {},
  ) {}

  /**
   * Appends durably without starting a delivery: for progress events, written the moment they happen
   * (so an agent killed with -9 loses none) and delivered in batches by the next `drain()`.
   */
  async record(...entries: SpoolEntry[]): Promise<void> {
    if (this.#state === 'gone') return;
    await this.spool.append(...entries);
  }

  /** Appends durably, then starts delivering in the background. */
  async append(...entries: SpoolEntry[]): Promise<void> {
    // Once the worker is gone there is nobody to deliver to; writing would only recreate the file.
    if (this.#state === 'gone') return;
    await this.spool.append(...entries);
    void this.drain();
  }

  /**
   * Delivers until nothing is pending (retrying transient failures with backoff) or the worker is
   * gone. Concurrent calls share one delivery loop.
   */
  drain(): Promise<DeliveryState> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Waits for delivery at most `ms`; what is still pending stays on disk for the next start. */
  async settle(ms: number): Promise<DeliveryState> {
    const timer = new AbortController();
    const state = await Promise.race([this.drain(), sleep(ms, timer.signal).then(() => 'pending' as const)]);
    timer.abort();
    return state;
  }

  /** Stops retrying (shutdown). */
  close(): void {
    this.#closed.abort();
  }

  async #loop(): Promise<DeliveryState> {
    for (let attempt = 0; !this.#closed.signal.aborted; ) {
      this.#again = false;
      this.#state = await this.#deliverPending();
      if (this.#state === 'gone') return 'gone';
      if (this.#state === 'delivered') {
        // An entry may have been added while the last one was out (its write still in flight, so no
        // drain() yet): deliver it too, and never delete a spool that still holds something.
        if (this.#again || this.spool.pending().length > 0) continue;
        if (this.spool.finished || this.options.dropWhenDelivered) await this.spool.remove();
        return 'delivered';
      }
      await sleep(backoffDelay(attempt++, { maxMs: 30_000 }), this.#closed.signal);
    }
    return this.#state;
  }

  async #deliverPending(): Promise<DeliveryState> {
    const pending = [...this.spool.pending()];
    for (let i = 0; i < pending.length; ) {
      // Consecutive event entries go out together (in POST-sized batches), and are acknowledged together.
      const { entry, count } = coalesceEvents(pending, i);
      i += count;
      try {
        await this.#send(entry);
      } catch (error) {
        if (!(error instanceof ServerRequestError)) throw error;
        switch (error.failure) {
          case 'conflict':
          case 'not_found':
            this.log('info', 'worker is no longer live on the server; dropping its outbox', {
              error: error.message,
            });
            this.options.onAbort?.('lease_lost');
            await this.spool.remove();
            return 'gone';
          case 'rejected':
          case 'protocol':
            // Resending the same bytes cannot succeed: skip it rather than block the final PATCH.
            this.log('error', 'the server refused an outbox entry; skipping it', { error: error.message });
            break;
          case 'limit':
            // The server's per-worker event rate: nothing was stored, the same batch goes again later.
            this.log('warn', 'the server asked to slow down; will send again', { error: error.message });
            return 'pending';
          case 'transient':
          case 'fatal':
            this.log('debug', 'outbox delivery failed; will retry', { error: error.message });
            return 'pending';
        }
      }
      await this.spool.ack(count);
    }
    return 'delivered';
  }

  async #send(entry: SpoolEntry): Promise<void> {
    if (entry.kind === 'events') {
      for (const events of batchEvents(entry.events))
        await this.client.postEvents(this.spool.workerId, { events });
      return;
    }
    const answer = await this.client.patchWorker(this.spool.workerId, entry.body);
    if (answer.abort && !entry.final) this.options.onAbort?.(answer.reason);
  }
}

import { EventEmitter } from 'node:events';
import type { Db } from '../db/index.ts';

/** Channels carried between server replicas by LISTEN/NOTIFY. */
export type BusChannel =
  | 'buildd_tasks'
  | 'buildd_cancel'
  | 'buildd_changes'
  | 'buildd_events'
  // A live worker has input for its session (a message, an answer); the payload is the worker id.
  | 'buildd_worker_input';

/** Every channel; `buildd_changes` and `buildd_events` are sent by triggers (src/queue/change-log.sql). */
const channels: BusChannel[] = [
  'buildd_tasks',
  'buildd_cancel',
  'buildd_changes',
  'buildd_events',
  'buildd_worker_input',
];

/**
 * Wake-ups between requests and across replicas. A message is a hint (tasks may be claimable, a worker
 * was cancelled), never the truth: whoever wakes up reads the database. One LISTEN per server process.
 */
export class Bus {
  private readonly local = new EventEmitter();
  private stops: Array<() => Promise<void>> = [];

  constructor(private readonly db: Db) {
    this.local.setMaxListeners(0);
  }

  /** Subscribes this process to the database channels. */
  async start(): Promise<void> {
    for (const channel of channels) {
      this.stops.push(await this.db.listen(channel, (payload) => this.local.emit(channel, payload)));
    }
  }

  /** Tells every replica (this one included, through its LISTEN). Call after the transaction commits. */
  async publish(channel: BusChannel, payload = ''): Promise<void> {
    await this.db.query('SELECT pg_notify($1, $2)', [channel, payload]).catch(() => {
      // The hint is lost, not the work: pollers and the next claim still see the rows.
    });
  }

  on(channel: BusChannel, fn: (payload: string) => void): () => void {
    this.local.on(channel, fn);
    return () => this.local.off(channel, fn);
  }

  /** Resolves on the next message on `channel`, or after `ms`, or when `signal` aborts. */
  waitFor(channel: BusChannel, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const off = this.on(channel, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async stop(): Promise<void> {
    for (const stop of this.stops) await stop().catch(() => {});
    this.stops = [];
    this.local.removeAllListeners();
  }
}

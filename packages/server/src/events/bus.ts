import { EventEmitter } from 'node:events';
import type { Db } from '../db/index.ts';
import { sendHints } from '../queue/send-hints.ts';

/** Channels carried between server replicas by LISTEN/NOTIFY. */
export type BusChannel =
  | 'buildd_tasks'
  | 'buildd_cancel'
  | 'buildd_changes'
  | 'buildd_events'
  // A live worker has input for its session (a message, an answer); the payload is the worker id.
  | 'buildd_worker_input'
  // A replica hinted an agent through its channel; the payload is `[accountId, agentId]` as JSON, so the
  // replica that holds the same agent's long poll wakes that instead (events/hint-dispatch.ts).
  | 'buildd_agent_wake';

/**
 * Every channel. `buildd_changes` and `buildd_events` are sent by triggers (src/queue/change-log.sql), except
 * after the hot paths, whose routes publish them here after commit (src/queue/hints.sql says why).
 */
const channels: BusChannel[] = [
  'buildd_tasks',
  'buildd_cancel',
  'buildd_changes',
  'buildd_events',
  'buildd_worker_input',
  'buildd_agent_wake',
];

/** How long hints are gathered before they go out together (the first of a quiet spell goes at once). */
const hintWindowMs = 10;

/**
 * Wake-ups between requests and across replicas. A message is a hint (tasks may be claimable, a worker
 * was cancelled), never the truth: whoever wakes up reads the database. One LISTEN per server process.
 */
export class Bus {
  private readonly local = new EventEmitter();
  private stops: Array<() => Promise<void>> = [];
  private readonly pending = new Set<string>();
  private flushing: Promise<void> | undefined;
  private sentAt = 0;

  constructor(private readonly db: Db) {
    this.local.setMaxListeners(0);
  }

  /** Subscribes this process to the database channels. */
  async start(): Promise<void> {
    for (const channel of channels) {
      this.stops.push(await this.db.listen(channel, (payload) => this.local.emit(channel, payload)));
    }
  }

  /**
   * Tells every replica (this one included, through its LISTEN). Call after the transaction commits; no need
   * to wait for it. Hints are gathered for `hintWindowMs`: the first goes out at once, those that follow
   * within the window go together at its end, identical ones folded into one, so that a busy server sends
   * a few NOTIFY statements a second whatever its request rate. Resolves once the hint is sent.
   */
  publish(channel: BusChannel, payload = ''): Promise<void> {
    this.pending.add(`${channel}\u0000${payload}`);
    if (!this.flushing) {
      const wait = Math.max(0, this.sentAt + hintWindowMs - Date.now());
      this.flushing = new Promise<void>((resolve) => setTimeout(resolve, wait)).then(() => this.flush());
    }
    return this.flushing;
  }

  private async flush(): Promise<void> {
    const hints = [...this.pending].map((key) => {
      const [channel, payload] = key.split('\u0000') as [string, string];
      return { channel, payload };
    });
    this.pending.clear();
    this.sentAt = Date.now();
    this.flushing = undefined;
    await sendHints(this.db, hints).catch(() => {
      // The hints are lost, not the work: pollers and the next claim still see the rows.
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
    await this.flushing;
    for (const stop of this.stops) await stop().catch(() => {});
    this.stops = [];
    this.local.removeAllListeners();
  }
}

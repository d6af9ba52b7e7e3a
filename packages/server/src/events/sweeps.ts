import type { Bus } from './bus.ts';

/**
 * One sweep of due rows at a time (webhook deliveries, pull requests): every `pollMs`, on each
 * `buildd_changes` hint (a change committed here or on another replica may have made rows due), and once more
 * at once when woken during a sweep or when the sweep says it left rows behind.
 */
export class Sweeps {
  private readonly timer: NodeJS.Timeout;
  private readonly off: () => void;
  private running: Promise<void> | null = null;
  private again = false;
  stopped = false;

  constructor(
    bus: Bus,
    pollMs: number,
    /** One sweep; `true` when it took a full batch and more may be due. */
    private readonly sweep: () => Promise<boolean>,
    private readonly onError: (err: Error) => void,
  ) {
    this.timer = setInterval(() => this.wake(), pollMs);
    this.timer.unref();
    this.off = bus.on('buildd_changes', () => this.wake());
  }

  /** Sweeps now, or once more after the sweep in progress. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sweep()
      .then((more) => {
        if (more) this.again = true;
      })
      .catch((err) => this.onError(err as Error))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Stops sweeping; resolves when the sweep in progress has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.off();
    await this.running;
  }
}

/** The wait before attempt `attempts + 1` of a swept row: doubling from `baseMs`, at most `maxMs`, ±25 % jitter. */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  const plain = Math.min(baseMs * 2 ** Math.max(0, attempts - 1), maxMs);
  return Math.round(plain * (0.75 + Math.random() * 0.5));
}

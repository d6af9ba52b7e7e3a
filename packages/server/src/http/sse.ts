import type { SSEStreamingApi } from 'hono/streaming';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** A message already encoded as its SSE frame, to be written as it is. */
export interface SseFrame {
  frame: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * SSE frames of the rows the shared reader hands to every stream that watches them, serialized and encoded
 * once for all of them: a thousand viewers of one task cost one JSON.stringify per event, not a thousand.
 * One cache per kind of stream, since a feed and a task stream frame the same row differently.
 */
export class FrameCache {
  private readonly frames = new WeakMap<object, Uint8Array>();

  of(row: object, message: () => SseMessage): SseFrame {
    let frame = this.frames.get(row);
    if (!frame) {
      const m = message();
      const data = m.data
        .split(/\r\n|\r|\n/)
        .map((line) => `data: ${line}`)
        .join('\n');
      frame = encoder.encode(`event: ${m.event}\n${data}\n${m.id === undefined ? '' : `id: ${m.id}\n`}\n`);
      this.frames.set(row, frame);
    }
    return { frame };
  }
}

export interface SseLimits {
  /** A comment line this often keeps proxies from closing an idle stream. */
  keepAliveMs: number;
  /** The longest a stream stays open; the client reconnects with `Last-Event-ID` and misses nothing. */
  lifetimeMs: number;
}

/** Messages queued beyond this mean a client that does not read: the stream ends and it may resume. */
const maxQueued = 10_000;

/**
 * One SSE response: the shared reader pushes messages from its callbacks (synchronously), `run` writes them
 * in order, with keep-alives, until the stream ends (lifetime reached, client gone, `end` called).
 */
export class SseSession {
  private readonly queue: Array<SseMessage | SseFrame> = [];
  private wake: (() => void) | null = null;
  private flush = true;
  ended = false;

  push(message: SseMessage | SseFrame): void {
    if (this.ended) return;
    this.queue.push(message);
    if (this.queue.length > maxQueued) this.end(false);
    this.wake?.();
  }

  /** Ends the stream; with `flush` what is queued is still written first. */
  end(flush = true): void {
    if (!this.ended) this.flush = flush;
    this.ended = true;
    this.wake?.();
  }

  async run(stream: SSEStreamingApi, limits: SseLimits): Promise<void> {
    stream.onAbort(() => this.end(false));
    const lifetime = setTimeout(() => this.end(), limits.lifetimeMs);
    const keepAlive = setInterval(() => {
      if (this.queue.length === 0) void stream.write(': keep-alive\n\n');
    }, limits.keepAliveMs);
    try {
      // EventSource waits this long before it reconnects (with Last-Event-ID) after the stream ends.
      await stream.write('retry: 1000\n\n');
      for (;;) {
        const next = this.ended && !this.flush ? undefined : this.queue.shift();
        if (next) {
          if ('frame' in next) await stream.write(next.frame);
          else await stream.writeSSE(next);
          continue;
        }
        if (this.ended) break;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
      }
    } finally {
      clearTimeout(lifetime);
      clearInterval(keepAlive);
    }
  }
}

import type { Task, TaskStatus, TaskWithWorkers, WorkerEvent } from '@buildd/protocol';
import type { ApiClient } from './client.ts';
import { CliError, exitCodes } from './exit-codes.ts';
import { readSse } from './sse.ts';

/** What following a task yields: its state on every change, and its progress events in order. */
export type FollowItem = { kind: 'task'; task: Task } | { kind: 'progress'; event: WorkerEvent };

/** Whether a task status is final (the status set of the server may grow: compare as strings). */
export const isFinal = (status: string) => (finalStatuses as readonly string[]).includes(status);

// The protocol's `finalTaskStatuses`, kept here so that following a task does not load zod.
const finalStatuses: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

/** How long a follower keeps trying to reconnect to a server that went away before it gives up. */
const reconnectForMs = 60_000;
const pollMs = 1000;

/**
 * Follows one task until it is final and every event has been seen: over its SSE stream
 * (`GET /api/tasks/:id/stream`, resumed with `Last-Event-ID` after a dropped connection), or by
 * polling its events and state when the server has no stream. Events are yielded once each, in order.
 */
export async function* followTask(
  client: ApiClient,
  taskId: string,
  opts: { after?: number; signal?: AbortSignal } = {},
): AsyncGenerator<FollowItem> {
  const id = encodeURIComponent(taskId);
  let after = opts.after ?? 0;
  let final = false;
  let lostSince: number | undefined;
  let useStream = true;
  while (!opts.signal?.aborted) {
    try {
      if (useStream) {
        let res: Response;
        try {
          res = await client.openStream(`/api/tasks/${id}/stream`, String(after), opts.signal);
        } catch (error) {
          if (error instanceof CliError && error.exitCode === exitCodes.unsupported) {
            useStream = false;
            continue;
          }
          throw error;
        }
        if (!res.headers.get('content-type')?.includes('text/event-stream') || !res.body) {
          useStream = false;
          continue;
        }
        lostSince = undefined;
        for await (const event of readSse(res.body)) {
          if (event.event === 'progress') {
            const progress = JSON.parse(event.data) as WorkerEvent;
            if (progress.id <= after) continue;
            after = progress.id;
            yield { kind: 'progress', event: progress };
          } else if (event.event === 'task') {
            const task = JSON.parse(event.data) as Task;
            final = isFinal(task.status);
            yield { kind: 'task', task };
          }
        }
        // The server ends the stream once the task is final and everything was sent.
        if (final) return;
        await sleep(250, opts.signal);
      } else {
        const events = await client.get<{ items: WorkerEvent[] }>(`/api/tasks/${id}/events`, {
          query: { after, limit: 500 },
          signal: opts.signal,
        });
        for (const event of events.items) {
          after = Math.max(after, event.id);
          yield { kind: 'progress', event };
        }
        const task = await client.get<TaskWithWorkers>(`/api/tasks/${id}`, { signal: opts.signal });
        yield { kind: 'task', task };
        lostSince = undefined;
        if (isFinal(task.status) && events.items.length === 0) return;
        if (events.items.length < 500) await sleep(pollMs, opts.signal);
      }
    } catch (error) {
      if (opts.signal?.aborted) return;
      // A dropped connection (server restarted, network blip) is resumed; anything else is the answer.
      const transient =
        !(error instanceof CliError) ||
        error.exitCode === exitCodes.unreachable ||
        (error.status !== undefined && error.status >= 502);
      if (!transient) throw error;
      lostSince ??= Date.now();
      if (Date.now() - lostSince > reconnectForMs) {
        throw error instanceof CliError
          ? error
          : new CliError(
              `Lost the connection to ${client.server} and could not get it back within ${reconnectForMs / 1000} s.`,
              exitCodes.unreachable,
            );
      }
      await sleep(1000, opts.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** Whether a task waits for a person's answer (a status newer servers have). */
export const isWaiting = (status: string) => status === 'waiting_input';

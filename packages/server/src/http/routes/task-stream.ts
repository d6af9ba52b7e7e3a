import { isFinalStatus } from '@buildd/protocol';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { type TaskRow, toTask, toWorkerEvent } from '../../db/rows.ts';
import { ApiError } from '../../errors.ts';
import { findVisibleTask } from '../../store/tasks.ts';
import type { AppEnv } from '../context.ts';
import { FrameCache, SseSession } from '../sse.ts';

const progressFrames = new FrameCache();
const taskFrames = new FrameCache();

/** A progress position from `Last-Event-ID` or `?after=`: a whole number, or 400. */
function parseAfter(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d{1,15}$/.test(value)) {
    throw new ApiError(
      'validation_failed',
      'Last-Event-ID (or after=) must be the id of a progress event: a whole number below 10^15.',
    );
  }
  return Number(value);
}

/**
 * `GET /api/tasks/:id/stream`: the task's progress as Server-Sent Events. Each progress event carries its
 * id, so a client that reconnects with `Last-Event-ID` (or `?after=`) misses nothing; a `task` event comes
 * with every change of the task. The stream does not query on its own: the process's shared reader
 * (events/live-reader.ts) hands it what the NOTIFY hints announce. It ends once the task is final and
 * everything has been sent, when the key is revoked or the workspace no longer visible, or at its lifetime.
 */
export function taskStreamRoutes() {
  const r = new Hono<AppEnv>();
  r.get('/tasks/:id/stream', async (c) => {
    const { db, live } = c.var.deps;
    const caller = c.var.account;
    const task = await findVisibleTask(db, caller, c.req.param('id'));
    const after = parseAfter(c.req.header('last-event-id') ?? c.req.query('after'));
    const admitted = await live.guard.admitStream(caller);
    return streamSSE(c, async (stream) => {
      const session = new SseSession();
      const unwatch = live.guard.watch({
        keyId: caller.keyId,
        workspaceId: task.workspace_id,
        close: () => session.end(false),
      });
      // The task as it is first; a final state ends the stream only once the backlog has been sent.
      session.push({ event: 'task', data: JSON.stringify(toTask(task)) });
      let joined = false;
      let final = isFinalStatus(task.status);
      let leave = () => {};
      try {
        leave = await live.reader.joinTask(
          {
            taskId: task.id,
            sendEvent: (row) =>
              session.push(
                progressFrames.of(row, () => ({
                  id: String(row.id),
                  event: 'progress',
                  data: JSON.stringify(toWorkerEvent(row)),
                })),
              ),
            sendTask: (change) => {
              const row = change.data as unknown as TaskRow;
              session.push(
                taskFrames.of(change, () => ({ event: 'task', data: JSON.stringify(toTask(row)) })),
              );
              if (isFinalStatus(row.status)) {
                final = true;
                if (joined) session.end();
              }
            },
          },
          after,
        );
        joined = true;
        if (final) session.end();
        await session.run(stream, live.settings);
      } finally {
        leave();
        unwatch();
        admitted.release();
      }
    });
  });
  return r;
}

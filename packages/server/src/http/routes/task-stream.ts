import { isFinalStatus } from '@buildd/protocol';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { toTask, toWorkerEvent } from '../../db/rows.ts';
import { eventsOfTask, findVisibleTask, readTask } from '../../store/tasks.ts';
import type { AppEnv } from '../context.ts';
import { cursorNumber } from '../paging.ts';

const pollMs = 500;

/**
 * `GET /api/tasks/:id/stream`: the task's progress as Server-Sent Events. Each progress event carries its
 * id, so a client that reconnects with `Last-Event-ID` (or `?after=`) misses nothing; a `task` event is
 * sent whenever the task's state changes. The stream reads the database (no NOTIFY per progress row), so
 * it works the same behind any replica; it ends once the task is final and everything has been sent.
 */
export function taskStreamRoutes() {
  const r = new Hono<AppEnv>();
  r.get('/tasks/:id/stream', async (c) => {
    const { db } = c.var.deps;
    const task = await findVisibleTask(db, c.var.account, c.req.param('id'));
    const lastEventId = c.req.header('last-event-id');
    let after =
      (lastEventId !== undefined
        ? cursorNumber(lastEventId, 'Last-Event-ID')
        : cursorNumber(c.req.query('after'), 'after')) ?? 0;
    return streamSSE(c, async (stream) => {
      let lastState = '';
      let aborted = false;
      stream.onAbort(() => {
        aborted = true;
      });
      while (!aborted) {
        const rows = await eventsOfTask(db, task.id, after, 500);
        for (const row of rows) {
          const event = toWorkerEvent(row);
          await stream.writeSSE({ id: String(event.id), event: 'progress', data: JSON.stringify(event) });
          after = event.id;
        }
        const now = await readTask(db, task.id);
        if (!now) break;
        const state = `${now.status}|${now.updated_at}`;
        if (state !== lastState) {
          lastState = state;
          await stream.writeSSE({ event: 'task', data: JSON.stringify(toTask(now)) });
        }
        if (isFinalStatus(now.status) && rows.length === 0) break;
        if (rows.length < 500) await stream.sleep(pollMs);
      }
    });
  });
  return r;
}

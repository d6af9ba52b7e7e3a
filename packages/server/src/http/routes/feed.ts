import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { type AgentRow, type TaskRow, toAgent, toTask } from '../../db/rows.ts';
import { ApiError } from '../../errors.ts';
import { findVisibleWorkspace } from '../../store/access.ts';
import type { ChangePosition, ChangeRow } from '../../store/changes.ts';
import type { AppEnv } from '../context.ts';
import { FrameCache, SseSession } from '../sse.ts';

const feedFrames = new FrameCache();

const maxPosition = 2n ** 63n - 1n;

/** A feed position from `Last-Event-ID` or `?after=` (`<tx>-<id>`, as the feed's ids are), or 400. */
export function parseFeedPosition(value: string): ChangePosition {
  const m = value.match(/^(\d{1,19})-(\d{1,19})$/);
  if (!m || BigInt(m[1]!) > maxPosition || BigInt(m[2]!) > maxPosition) {
    throw new ApiError(
      'validation_failed',
      'Last-Event-ID (or after=) must be an id this feed sent, such as "1234-567".',
    );
  }
  return { tx: String(BigInt(m[1]!)), id: String(BigInt(m[2]!)) };
}

const feedId = (p: ChangePosition) => `${p.tx}-${p.id}`;

/** A change-log row as the feed's SSE message: `task` (as GET shows it) or `agent`. */
function toMessage(change: ChangeRow) {
  const data =
    change.kind === 'task'
      ? toTask(change.data as unknown as TaskRow)
      : toAgent(change.data as unknown as AgentRow);
  return { id: feedId(change), event: change.kind, data: JSON.stringify(data) };
}

/**
 * `GET /api/stream[?workspaceId=]`: everything the caller may see, as it happens: `task` on creation and
 * every change, `agent` when one comes online or goes offline. Ids are positions in the persisted change log,
 * so `Last-Event-ID` resumes exactly, on any replica and after restarts. Served by the shared reader; the
 * caller's key and grants are re-checked while it lives (events/stream-guard.ts).
 */
export function feedRoutes() {
  const r = new Hono<AppEnv>();
  r.get('/stream', async (c) => {
    const { db, live } = c.var.deps;
    const caller = c.var.account;
    const wsParam = c.req.query('workspaceId');
    const workspace = wsParam ? await findVisibleWorkspace(db, caller, wsParam) : null;
    const start = c.req.header('last-event-id') ?? c.req.query('after');
    const from = start ? parseFeedPosition(start) : live.reader.position;
    const admitted = await live.guard.admitStream(caller);
    return streamSSE(c, async (stream) => {
      const session = new SseSession();
      const unwatch = live.guard.watch({ keyId: caller.keyId, close: () => session.end(false) });
      // A first id even before any change, so that a client reconnecting at once resumes from here.
      if (!start) session.push({ id: feedId(from), event: 'ready', data: '{}' });
      let leave = () => {};
      try {
        leave = await live.reader.joinFeed(
          {
            keyId: caller.keyId,
            accountId: caller.id,
            workspaceId: workspace?.id ?? null,
            send: (change) => session.push(feedFrames.of(change, () => toMessage(change))),
          },
          from,
        );
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

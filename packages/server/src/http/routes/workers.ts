import { ClaimBody, PatchWorkerBody, PostEventsBody } from '@buildd/protocol';
import { Hono } from 'hono';
import { retryTransient } from '../../db/retry.ts';
import { toTask, toWorker, toWorkspace } from '../../db/rows.ts';
import { ApiError } from '../../errors.ts';
import { observeClaim } from '../../metrics/registry.ts';
import { appendEvents } from '../../queue/append-events.ts';
import { type ClaimRequest, type ClaimResult, claimTasks } from '../../queue/claim.ts';
import { defaultEventLimits, type EventLimits, EventRateLimiter } from '../../queue/event-limits.ts';
import { updateWorker } from '../../queue/update-worker.ts';
import { recordAgent } from '../../store/agents.ts';
import { continueOnEarlierBranch } from '../../store/questions.ts';
import { agentIdHeader, findVisibleWorker } from '../../store/workers.ts';
import { readJson } from '../body.ts';
import type { AppEnv } from '../context.ts';
import { nodeRequest, requestHeader } from '../node-request.ts';

/** The agent endpoints of the spec: claim, progress/completion PATCH, event batches. */
export function workerRoutes() {
  const r = new Hono<AppEnv>();

  r.post('/workers/claim', async (c) => {
    const body = await readJson(c, ClaimBody);
    const { db, bus, live, leaseSeconds, legacyLeaseSeconds, renewSeconds } = c.var.deps;
    const me = c.var.account;
    const workspaces = [...(body.workspaceIds ?? []), ...(body.workspaceId ? [body.workspaceId] : [])];
    // An older agent names no agentId; it is listed under the runner name it sends.
    await recordAgent(
      db,
      me.id,
      { ...body, agentId: body.agentId ?? `legacy:${body.runner ?? 'agent'}` },
      workspaces,
    );
    // An older agent renews its lease only with its progress PATCHes, one per model message: its lease
    // must outlast the slowest tool call or model turn.
    const workerLease = body.agentId === undefined ? legacyLeaseSeconds : leaseSeconds;
    const request: ClaimRequest = {
      caller: me,
      agentId: body.agentId ?? null,
      authType: body.authType ?? null,
      maxTasks: body.maxTasks,
      capabilities: body.capabilities,
      workspaces: workspaces.length > 0 ? workspaces : null,
      excludeTaskIds: body.excludeTaskIds ?? [],
      leaseSeconds: workerLease,
      retrySeconds: Math.max(renewSeconds, 5),
    };
    const deadline = Date.now() + (body.waitSeconds ?? 0) * 1000;
    // A long poll listens for the client hanging up; a plain claim only looks at its socket (the web
    // Request behind c.req.raw.signal costs more than the claim's own work on the server).
    const incoming = nodeRequest(c);
    const signal = body.waitSeconds || !incoming ? c.req.raw.signal : undefined;
    const gone = () => (signal ? signal.aborted : incoming?.socket.destroyed === true);
    let result: ClaimResult;
    for (;;) {
      // A client that hung up must not be handed tasks it will never run.
      if (gone()) return c.body(null, 499 as 200);
      const hintsBefore = live.hints.hintsSeen;
      result = await observeClaim(c.var.deps.metrics, () => retryTransient(() => claimTasks(db, request)));
      const left = deadline - Date.now();
      if (result.claimed.length > 0 || left <= 0 || gone()) break;
      // Long poll: sleep until this replica's hints pick this claim for a task that became claimable (here or
      // on another replica; a backoff's end is hinted by the reaper's round). A hint that is lost costs this
      // claim its wait, never the task: the agent claims again at its poll interval.
      await live.hints.waitForHint(
        {
          accountId: me.id,
          agentId: body.agentId,
          request: {
            accountId: me.id,
            capabilities: body.capabilities,
            workspaces,
            free: body.maxTasks,
          },
        },
        hintsBefore,
        left,
        signal ?? c.req.raw.signal,
      );
    }
    live.hints.claimed(me.id, body.agentId);
    // The change log's hint, sent after commit (src/queue/hints.sql).
    if (result.claimed.length > 0) void bus.publish('buildd_changes');
    await Promise.all(
      result.claimed.map(async ({ task, worker, resume }) => {
        if (resume) worker.branch = (await continueOnEarlierBranch(db, worker.id, task.id)) ?? worker.branch;
      }),
    );
    return c.json({
      workers: result.claimed.map(({ worker, task, workspace, resume }) => ({
        ...(resume ? { resume } : {}),
        id: worker.id,
        taskId: task.id,
        task: toTask(task),
        workspace: toWorkspace(workspace),
        branch: worker.branch,
        leaseExpiresAt: toWorker(worker).leaseExpiresAt,
        leaseSeconds: workerLease,
        renewSeconds,
      })),
      ...('reason' in result ? { diagnostics: { reason: result.reason, message: result.message } } : {}),
    });
  });

  r.patch('/workers/:id', async (c) => {
    const body = await readJson(c, PatchWorkerBody);
    const { db, bus, leaseSeconds } = c.var.deps;
    const agentId = requestHeader(c, agentIdHeader);
    // One statement, its own transaction, whether progress or a final report (update-worker.ts).
    const result = await retryTransient(() =>
      updateWorker(db, c.var.account, c.req.param('id'), agentId, body, leaseSeconds),
    );
    // The change log's hint, sent after commit (src/queue/hints.sql); only a status moves the task.
    if (body.status !== undefined) void bus.publish('buildd_changes');
    if (result.abort && !result.live) {
      const err = new ApiError('worker_not_live', `This worker is ${result.worker.status}; stop the run.`);
      return c.json(
        { abort: true, reason: result.reason, worker: toWorker(result.worker), ...err.toBody() },
        409,
      );
    }
    // A finished worker frees a slot, and its task may unblock dependents or come back after a backoff.
    if (result.worker.finished_at !== null) void bus.publish('buildd_tasks', result.worker.workspace_id);
    return c.json(
      result.abort
        ? { abort: true, reason: result.reason, worker: toWorker(result.worker) }
        : { abort: false, worker: toWorker(result.worker) },
    );
  });

  const limiters = new WeakMap<object, { limits: EventLimits; rate: EventRateLimiter }>();
  r.post('/workers/:id/events', async (c) => {
    const body = await readJson(c, PostEventsBody);
    const { db } = c.var.deps;
    let per = limiters.get(c.var.deps);
    if (!per) {
      const limits = { ...defaultEventLimits, ...c.var.deps.eventLimits };
      per = { limits, rate: new EventRateLimiter(limits) };
      limiters.set(c.var.deps, per);
    }
    const workerId = c.req.param('id');
    const holder = { accountId: c.var.account.id, workerId, agentId: requestHeader(c, agentIdHeader) };
    const { limits } = per;
    per.rate.take(workerId, body.events.length);
    const stored = await retryTransient(() => appendEvents(db, holder, body.events, limits)).catch((err) => {
      // Only the holder's batches count against its rate.
      if (err instanceof ApiError && (err.code === 'not_found' || err.code === 'forbidden')) {
        per.rate.giveBack(workerId, body.events.length);
      }
      throw err;
    });
    // The task's progress hint, sent after commit (src/queue/hints.sql).
    if (stored.stored > 0) void c.var.deps.bus.publish('buildd_events', stored.taskId);
    c.var.deps.metrics.eventsIngested.inc(stored.stored);
    return c.json({ stored: stored.stored, lastSeq: stored.lastSeq });
  });

  r.get('/workers/:id', async (c) => {
    return c.json(toWorker(await findVisibleWorker(c.var.deps.db, c.var.account, c.req.param('id'))));
  });

  return r;
}

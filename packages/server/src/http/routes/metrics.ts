import { liveWorkerStatuses, taskStatuses } from '@buildd/protocol';
import { Hono } from 'hono';
import { readQueueFigures } from '../../store/metrics.ts';
import type { AppEnv } from '../context.ts';

/**
 * `/metrics` in Prometheus text format. Like `/healthz` it needs no key: it shows counts, statuses and
 * route patterns only, never an id, a name or a secret. Keep it off the public side of a proxy.
 */
export function metricsRoutes() {
  const r = new Hono<AppEnv>();

  r.get('/metrics', async (c) => {
    const { db, metrics, agentOfflineSeconds } = c.var.deps;
    const figures = await readQueueFigures(db, agentOfflineSeconds);
    metrics.tasks.reset();
    // Every status appears, at 0 when no task has it, so a rate or an alert never sees a missing series.
    for (const status of new Set([...taskStatuses, ...Object.keys(figures.tasksByStatus)])) {
      metrics.tasks.set({ status }, figures.tasksByStatus[status] ?? 0);
    }
    metrics.liveWorkers.reset();
    for (const status of new Set([...liveWorkerStatuses, ...Object.keys(figures.liveWorkersByStatus)])) {
      metrics.liveWorkers.set({ status }, figures.liveWorkersByStatus[status] ?? 0);
    }
    metrics.onlineAgents.set(figures.onlineAgents);
    return c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType });
  });

  return r;
}

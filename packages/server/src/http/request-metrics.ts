import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { AppEnv } from './context.ts';

/**
 * Counts every answered request by method, route pattern (`/api/tasks/:id`, never the id itself, so the
 * number of series stays small) and status. A request no route matched counts as `unmatched`.
 */
export const countRequests: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  // Middleware is registered for every method ('ALL'); the handler that answered has a real one.
  const route = matchedRoutes(c)
    .filter((r) => r.method !== 'ALL')
    .at(-1)?.path;
  c.var.deps.metrics.httpRequests.inc({
    method: c.req.method,
    route: route ?? 'unmatched',
    status: String(c.res.status),
  });
};

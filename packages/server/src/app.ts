import { apiVersionHeader, limits, protocolVersion } from '@buildd/protocol';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { ApiError, isTransientDbError, rejectedValueError } from './errors.ts';
import { requireAuth } from './http/auth.ts';
import { bodyTooLarge } from './http/body.ts';
import type { AppDeps, AppEnv } from './http/context.ts';
import { nodeRequest } from './http/node-request.ts';
import { countRequests } from './http/request-metrics.ts';
import { accountRoutes } from './http/routes/accounts.ts';
import { agentRoutes } from './http/routes/agents.ts';
import { artifactRoutes, artifactUploadPath } from './http/routes/artifacts.ts';
import { feedRoutes } from './http/routes/feed.ts';
import { healthRoutes } from './http/routes/health.ts';
import { installScriptRoutes } from './http/routes/install-script.ts';
import { messageRoutes } from './http/routes/messages.ts';
import { metricsRoutes } from './http/routes/metrics.ts';
import { openapiRoute } from './http/routes/openapi.ts';
import { questionRoutes } from './http/routes/questions.ts';
import { sessionRoutes } from './http/routes/session.ts';
import { taskStreamRoutes } from './http/routes/task-stream.ts';
import { taskRoutes } from './http/routes/tasks.ts';
import { usageRoutes } from './http/routes/usage.ts';
import { webhookRoutes } from './http/routes/webhooks.ts';
import { workerRoutes } from './http/routes/workers.ts';
import { workspaceRoutes } from './http/routes/workspaces.ts';
import { serveDashboard } from './http/static.ts';

/**
 * Builds the whole HTTP app without listening: `server.ts` binds it to a port; tests that need no socket call
 * it in-process through `app.fetch` (test/support/server.ts, `inProcess`).
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    c.set('deps', deps);
    // Clients (the buildd CLI) refuse a server whose API version they do not speak.
    c.header(apiVersionHeader, protocolVersion);
    await next();
  });
  app.use('*', countRequests);
  const jsonBodyLimit = bodyLimit({
    maxSize: limits.bodyBytes,
    onError: () => {
      throw bodyTooLarge();
    },
  });
  app.use('/api/*', (c, next) => {
    // Artifact uploads are raw bytes with a limit of their own (http/routes/artifacts.ts).
    if (artifactUploadPath.test(c.req.path)) return next();
    // Under Node, a declared length over the limit is refused before reading; readJson counts the bytes it
    // reads. Hono's middleware would build the web Request of every call (http/node-request.ts).
    const incoming = nodeRequest(c);
    if (!incoming) return jsonBodyLimit(c, next);
    if (Number(incoming.headers['content-length'] ?? 0) > limits.bodyBytes) throw bodyTooLarge();
    return next();
  });

  app.route('/', healthRoutes());
  app.route('/', metricsRoutes());
  app.route('/', installScriptRoutes());
  app.route('/api', openapiRoute());
  app.route('/api', sessionRoutes());

  app.use('/api/*', requireAuth);
  app.route('/api', accountRoutes());
  app.route('/api', workspaceRoutes());
  app.route('/api', taskRoutes());
  app.route('/api', taskStreamRoutes());
  app.route('/api', feedRoutes());
  app.route('/api', webhookRoutes());
  app.route('/api', workerRoutes());
  app.route('/api', agentRoutes());
  app.route('/api', usageRoutes());
  app.route('/api', artifactRoutes());
  app.route('/api', questionRoutes());
  app.route('/api', messageRoutes());
  app.use('*', serveDashboard());

  app.notFound((c) =>
    c.json(
      new ApiError('not_found', `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`).toBody(),
      404,
    ),
  );

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      // A body refused before it was read leaves bytes on the socket: the client must not reuse it.
      if (err.code === 'payload_too_large') c.header('Connection', 'close');
      return c.json(err.toBody(), err.status as 400);
    }
    if (err instanceof HTTPException) {
      const code =
        err.status === 413 ? 'payload_too_large' : err.status === 401 ? 'unauthenticated' : 'bad_request';
      return c.json(new ApiError(code, err.message || 'Bad request.').toBody(), err.status);
    }
    const rejected = rejectedValueError(err);
    if (rejected) return c.json(rejected.toBody(), 400);
    if (isTransientDbError(err)) {
      deps.log.warn({ err: (err as Error).message }, 'database unavailable');
      c.header('Retry-After', '1');
      return c.json(
        new ApiError('unavailable', 'The database is briefly unavailable; try again.').toBody(),
        503,
      );
    }
    deps.log.error({ err }, 'unhandled error');
    return c.json(
      new ApiError('internal', 'Something went wrong on the server; it has been logged.').toBody(),
      500,
    );
  });

  return app;
}

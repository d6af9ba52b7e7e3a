import type { IncomingMessage } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';

/**
 * The Node request behind a context when the app runs under @hono/node-server; undefined when it is called
 * in process through `app.fetch` (tests). The hot paths (claim, worker PATCH, event append) read headers and
 * the body from it: @hono/node-server builds a web Headers object, or a whole web Request with a
 * ReadableStream body, the first time `c.req.raw` needs one, and on those paths that cost more CPU than the
 * route's own work (`npm run bench -- server`).
 */
export function nodeRequest(c: Context): IncomingMessage | undefined {
  return (c.env as Partial<HttpBindings> | undefined)?.incoming;
}

/** A request header (`name` in lower case), without building a web Headers object under Node. */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = nodeRequest(c);
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

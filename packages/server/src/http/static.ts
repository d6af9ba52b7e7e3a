import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './context.ts';

/** Where `npm run build` puts the dashboard (packages/dashboard/dist). */
export const dashboardDistDir = fileURLToPath(new URL('../../../dashboard/dist/', import.meta.url));

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/**
 * No inline script or style, nothing from elsewhere: agent output shown on a page can never run. The API
 * answers on the same origin, so `connect-src 'self'` covers fetch and EventSource.
 */
export const dashboardCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

async function readIfFile(path: string): Promise<Buffer | undefined> {
  try {
    return (await stat(path)).isFile() ? await readFile(path) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Serves the built dashboard for every GET outside `/api/`: hashed files under `/assets/` are cached for a
 * year, anything else that is not a file gets `index.html` (the single-page app routes it), never cached.
 */
export function serveDashboard(dir = dashboardDistDir) {
  const root = normalize(dir.endsWith(sep) ? dir : dir + sep);
  return createMiddleware<AppEnv>(async (c, next) => {
    const path = c.req.path;
    if ((c.req.method !== 'GET' && c.req.method !== 'HEAD') || path === '/api' || path.startsWith('/api/')) {
      return next();
    }
    c.header('Content-Security-Policy', dashboardCsp);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Frame-Options', 'DENY');
    let relative: string;
    try {
      relative = decodeURIComponent(path);
    } catch {
      relative = '/';
    }
    const file = normalize(join(root, relative));
    const inside = file.startsWith(root) && !relative.includes('\0');
    const body = inside && relative !== '/' ? await readIfFile(file) : undefined;
    if (body) {
      const immutable = relative.startsWith('/assets/');
      c.header('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      c.header('Content-Type', types[extname(file)] ?? 'application/octet-stream');
      return c.body(new Uint8Array(body), 200);
    }
    if (relative.startsWith('/assets/')) return c.text('No such file.', 404);
    const index = await readIfFile(join(root, 'index.html'));
    c.header('Cache-Control', 'no-cache');
    if (!index) {
      return c.text(
        'The buildd dashboard is not built: run `npm run build` (or `npm install`) in the checkout. The API works without it.',
        503,
      );
    }
    c.header('Content-Type', types['.html']!);
    return c.body(new Uint8Array(index), 200);
  });
}

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What `GET /health` answers: 200 when `healthy`, 503 otherwise, with the reasons in `problems`. */
export interface HealthReport {
  healthy: boolean;
  problems: string[];
  agentId: string | null;
  version: string;
  claimLoop: { alive: boolean; overdueSeconds: number; restarts: number };
  /** When the buildd server last answered a request (ISO time), or null. */
  lastServerContactAt: string | null;
  runningTasks: number;
  /** Progress entries (events, reports) written to the spool and not yet delivered. */
  spoolDepth: number;
  sandbox: { enabled: boolean; available: boolean };
}

/**
 * Serves the agent's health as JSON on 127.0.0.1:`port` (0 picks a free port), for a supervisor, a
 * container health check or a person with curl. Resolves once listening.
 */
export async function serveHealth(
  port: number,
  report: () => HealthReport,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' || (path !== '/health' && path !== '/')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'the agent serves GET /health only' } }));
      return;
    }
    const body = report();
    res.writeHead(body.healthy ? 200 : 503, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
    });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

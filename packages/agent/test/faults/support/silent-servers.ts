/**
 * Servers that stop answering, for the "half-open socket" faults: one that accepts connections and
 * reads but never writes a byte, and a proxy in front of a real server that can hang a request (it
 * never reaches the server) or swallow an answer (the server did the work; the client never hears).
 */
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';

/** A TCP server that reads everything and never answers. */
export interface SilentServer {
  url: string;
  connections: number;
  bytesRead: number;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 that accepts, reads, and never writes. */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0, bytesRead: 0 };
  const server = createServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on('data', (chunk) => {
      state.bytesRead += chunk.length;
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return state.connections;
    },
    get bytesRead() {
      return state.bytesRead;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What the proxy does with one request. */
export type ProxyAction = 'forward' | 'hang' | 'swallow';

/** One request the proxy saw. */
export interface ProxiedRequest {
  method: string;
  path: string;
  action: ProxyAction;
  body: string;
  /** The server's answer, when the request was sent on. */
  answer?: { status: number; body: string };
}

/** A running proxy. */
export interface FaultProxy {
  url: string;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

/** Starts a proxy to `upstream` that asks `decide` what to do with each request. */
export async function startFaultProxy(
  upstream: string,
  decide: (method: string, path: string) => ProxyAction,
): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const server = createHttpServer((req, res) => {
    void readBody(req).then(async (body) => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const seen: ProxiedRequest = { method, path, action: decide(method, path), body };
      requests.push(seen);
      if (seen.action === 'hang') return; // never sent on, never answered
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type', 'accept', 'user-agent']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      try {
        const answer = await fetch(`${upstream}${path}`, {
          method,
          headers,
          body: method === 'GET' || method === 'HEAD' ? undefined : body,
        });
        seen.answer = { status: answer.status, body: await answer.text() };
      } catch {
        res.destroy();
        return;
      }
      if (seen.action === 'swallow') return; // the server did it; the client never hears
      res.writeHead(seen.answer.status, { 'content-type': 'application/json' });
      res.end(seen.answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}

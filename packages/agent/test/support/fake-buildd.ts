/**
 * A scriptable stand-in for the buildd server on 127.0.0.1 (real HTTP and a real WebSocket upgrade),
 * for agent tests until the real server can be started in tests. It records every request so tests
 * can check what the agent sent, and answers with protocol-valid defaults unless a test overrides a
 * route.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AgentChannelMessage, Worker } from '@buildd/protocol';
import { afterEach, beforeEach } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import type { RunningAgent } from '../../src/agent.ts';

/** One request as the fake received it. */
export interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as sent, to search for leaked secrets. */
  raw: string;
  body: any;
  at: number;
}

/** A scripted answer: JSON with a status, or `hang` (never answer), or `destroy` (drop the socket). */
export type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang' | 'destroy';

/** Answers one request; return undefined to fall through to the default. */
export type Handler = (req: Recorded) => Reply | undefined | Promise<Reply | undefined>;

/** The running fake. */
export interface FakeBuildd {
  url: string;
  requests: Recorded[];
  /** Overrides the answer of `METHOD /path` (path may be a RegExp). Later routes win. */
  route(method: string, path: string | RegExp, handler: Handler): void;
  /** Sends a message to every connected push-channel client. */
  push(message: AgentChannelMessage): void;
  /**
   * Stops reading every open push-channel socket (they stay open): to the agent the server is a dead peer,
   * its pings go unanswered, as over a half-open connection. Later connections are served normally.
   */
  freezeChannel(): void;
  /** Pings every push-channel client every `ms` (as the real server does every 25 s); 0 stops. */
  pingChannel(ms: number): void;
  /** Pings the fake received from push-channel clients. */
  channelPingsReceived(): number;
  /** Push-channel connections so far (upgrade headers included). */
  channelConnections: IncomingHttpHeaders[];
  /** Answers push-channel upgrades with this HTTP status (e.g. 404: no channel), or accepts them (null). */
  refuseChannel(status: number | null): void;
  /** Makes the whole server answer 503 (an outage) until called again with false. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/** A protocol-valid worker row for PATCH answers. */
export function workerRow(id: string, status: Worker['status'] = 'running'): Worker {
  const now = new Date().toISOString();
  return {
    id,
    taskId: `task-of-${id}`,
    accountId: 'acct-test',
    agentId: 'agent-test',
    status,
    authType: 'oauth',
    branch: 'buildd/x',
    leaseExpiresAt: now,
    currentAction: null,
    turns: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    costUsd: 0,
    summary: null,
    error: null,
    exitCause: null,
    commitSha: null,
    filesChanged: null,
    linesAdded: null,
    linesRemoved: null,
    prUrl: null,
    sandboxed: true,
    lastEventSeq: 0,
    createdAt: now,
    startedAt: now,
    finishedAt: null,
  };
}

const account = {
  id: 'acct-test',
  name: 'test',
  type: 'user',
  level: 'member',
  maxConcurrentWorkers: 3,
  maxConcurrentSessions: 2,
  maxCostPerDayUsd: null,
  createdAt: new Date(0).toISOString(),
};

function defaultReply(req: Recorded): Reply {
  const patch = /^\/api\/workers\/([^/]+)$/.exec(req.path);
  if (req.method === 'PATCH' && patch)
    return { status: 200, body: { worker: workerRow(patch[1]!), abort: false } };
  if (req.method === 'POST' && /\/events$/.test(req.path)) {
    const seqs: number[] = (req.body?.events ?? []).map((e: { seq: number }) => e.seq);
    return { status: 200, body: { stored: seqs.length, lastSeq: Math.max(0, ...seqs) } };
  }
  if (req.method === 'POST' && req.path === '/api/workers/claim')
    return { status: 200, body: { workers: [] } };
  if (req.method === 'GET' && req.path === '/api/me') return { status: 200, body: { account } };
  if (req.method === 'GET' && req.path === '/api/workspaces')
    return { status: 200, body: { items: [], nextCursor: null } };
  return { status: 404, body: { error: { code: 'not_found', message: 'no such route' } } };
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeBuildd(): Promise<FakeBuildd> {
  const routes: { method: string; path: string | RegExp; handler: Handler }[] = [];
  const requests: Recorded[] = [];
  const sockets = new Set<Socket>();
  const channelConnections: IncomingHttpHeaders[] = [];
  const channelSockets = new Set<Duplex>();
  let down = false;
  let channelRefusal: number | null = null;

  const send = (res: ServerResponse, reply: Exclude<Reply, 'hang' | 'destroy'>) => {
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
  };

  const server = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const url = new URL(req.url ?? '/', 'http://x');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    const rec: Recorded = {
      method: req.method ?? '',
      path: url.pathname,
      headers: req.headers,
      raw,
      body,
      at: Date.now(),
    };
    requests.push(rec);
    if (down) return send(res, { status: 503, body: { error: { code: 'unavailable', message: 'down' } } });
    let reply: Reply | undefined;
    for (const route of [...routes].reverse()) {
      const matches = typeof route.path === 'string' ? route.path === rec.path : route.path.test(rec.path);
      if (route.method === rec.method && matches) {
        reply = await route.handler(rec);
        if (reply) break;
      }
    }
    reply ??= defaultReply(rec);
    if (reply === 'hang') return;
    if (reply === 'destroy') return req.socket.destroy();
    send(res, reply);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ noServer: true });
  let pingsReceived = 0;
  let pinger: NodeJS.Timeout | undefined;
  wss.on('connection', (ws: WebSocket) => {
    ws.on('ping', () => {
      pingsReceived += 1;
    });
  });
  server.on('upgrade', (req, socket, head) => {
    channelConnections.push(req.headers);
    const refusal = down ? 503 : req.url?.startsWith('/api/agents/channel') ? channelRefusal : 404;
    if (refusal) {
      socket.end(`HTTP/1.1 ${refusal} Refused\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    channelSockets.add(socket);
    socket.once('close', () => channelSockets.delete(socket));
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => wss.emit('connection', ws, req));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    channelConnections,
    route: (method, path, handler) => routes.push({ method, path, handler }),
    push: (message) => {
      for (const client of wss.clients) client.send(JSON.stringify(message));
    },
    pingChannel: (ms) => {
      clearInterval(pinger);
      if (ms > 0)
        pinger = setInterval(() => {
          for (const client of wss.clients) client.ping();
        }, ms);
    },
    channelPingsReceived: () => pingsReceived,
    freezeChannel: () => {
      for (const socket of channelSockets) socket.pause();
    },
    refuseChannel: (status) => {
      channelRefusal = status;
    },
    setDown: (value) => {
      down = value;
    },
    close: async () => {
      clearInterval(pinger);
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The per-test surroundings of an agent test: a fresh fake server, and the agent started on it. */
export interface FakeBuilddBox {
  /** The fake of the current test. */
  fake: FakeBuildd;
  /** Set it to the agent the test starts: it is stopped after the test, before the fake closes. */
  agent: RunningAgent | undefined;
}

/**
 * Registers beforeEach/afterEach hooks that give each test a fresh fake buildd server, and stop the
 * test's agent and close the fake afterwards (so no test leaves a server or agent running). Call at
 * the top of a test file.
 */
export function useFakeBuildd(): FakeBuilddBox {
  const box = { agent: undefined } as FakeBuilddBox;
  beforeEach(async () => {
    box.fake = await startFakeBuildd();
  });
  afterEach(async () => {
    await box.agent?.stop();
    box.agent = undefined;
    await box.fake.close();
  });
  return box;
}

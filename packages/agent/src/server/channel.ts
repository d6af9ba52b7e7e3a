import { AgentChannelMessage } from '@buildd/protocol';
import WebSocket from 'ws';
import { backoffDelay } from '../backoff.ts';
import type { Log } from '../log.ts';

/** Options of `connectChannel`. */
export interface ChannelOptions {
  server: string;
  apiKey: string;
  agentId: string;
  log: Log;
  onMessage: (message: AgentChannelMessage) => void;
  /** Called on every (re)connect: a reconnect may have missed hints, so the caller claims then. */
  onConnect: () => void;
  /** After this long without a frame the agent pings; unanswered this long again = a dead peer (default 30 s). */
  pingMs?: number;
  /** Reconnect delays: exponential from `baseMs` up to `maxMs`, with jitter (defaults 1 s and 30 s). */
  backoff?: { baseMs?: number; maxMs?: number };
}

/** The URL of the push channel for an http(s) server URL. */
export function channelUrl(server: string, agentId: string): string {
  const url = new URL('/api/agents/channel', server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('agentId', agentId);
  return url.toString();
}

/**
 * Keeps the optional push channel (WebSocket `GET /api/agents/channel`) open. It only speeds things up: a
 * hint triggers a claim, and polling goes on regardless, so a channel that never connects costs nothing but
 * a log line.
 *
 * - A lost connection is retried with exponential backoff and jitter (`backoffDelay`), so agents that lost
 *   the server together do not all come back in the same instant; a connection that stayed up a while
 *   starts again from the shortest delay.
 * - A half-open connection (the network dropped, no FIN or RST ever comes) looks open for ever: after
 *   `pingMs` without any frame from the server the agent pings, and a ping still unanswered `pingMs` later
 *   ends the socket and reconnects (a dead peer is noticed within two to three intervals).
 * - Every (re)connect calls `onConnect`: hints sent while the agent was away are lost, so it claims then.
 */
export function connectChannel(options: ChannelOptions): { close(): void } {
  const { log } = options;
  let closed = false;
  let socket: WebSocket | undefined;
  let retry: NodeJS.Timeout | undefined;
  let attempt = 0;
  let connects = 0;
  let warned = false;

  const connect = () => {
    if (closed) return;
    const ws = new WebSocket(channelUrl(options.server, options.agentId), {
      headers: { authorization: `Bearer ${options.apiKey}` },
      handshakeTimeout: 10_000,
    });
    socket = ws;
    let openedAt = 0;
    // Any frame since the last tick (the server's own pings, hints, our pong); whether our ping is unanswered.
    let heard = true;
    let awaiting = false;
    let ping: NodeJS.Timeout | undefined;
    const pingMs = options.pingMs ?? 30_000;
    ws.on('open', () => {
      openedAt = Date.now();
      warned = false;
      log('info', 'push channel connected', { reconnect: connects++ > 0 });
      // A half-open TCP connection sends no close: a missed pong is the only way to notice it. A server that
      // pings (every 25 s) already proves it is there, so the agent pings only after a silent interval.
      ping = setInterval(() => {
        if (heard) {
          heard = false;
          awaiting = false;
          return;
        }
        if (awaiting) {
          log('warn', 'push channel silent (no pong): dropping it and reconnecting', {
            unansweredForSeconds: pingMs / 1000,
          });
          return ws.terminate();
        }
        awaiting = true;
        ws.ping();
      }, pingMs);
      options.onConnect();
    });
    const alive = () => {
      heard = true;
    };
    ws.on('pong', alive);
    ws.on('ping', alive);
    ws.on('message', (data) => {
      alive();
      let json: unknown;
      try {
        json = JSON.parse(data.toString());
      } catch {
        json = undefined;
      }
      const parsed = AgentChannelMessage.safeParse(json);
      if (parsed.success) options.onMessage(parsed.data);
      else log('debug', 'ignoring an unknown push channel message');
    });
    ws.on('unexpected-response', (_req, res) => {
      fail(`the server answered ${res.statusCode} to the upgrade`);
      ws.terminate();
    });
    ws.on('error', (error) => fail(error.message));
    ws.on('close', () => {
      clearInterval(ping);
      if (closed) return;
      // Only a connection that stayed up a while resets the backoff: no tight reconnect loop.
      if (openedAt && Date.now() - openedAt > 10_000) attempt = 0;
      const delay = backoffDelay(attempt++, {
        baseMs: options.backoff?.baseMs ?? 1000,
        maxMs: options.backoff?.maxMs ?? 30_000,
      });
      log(openedAt ? 'info' : 'debug', 'push channel closed; reconnecting', { inMs: delay });
      retry = setTimeout(connect, delay);
    });
  };

  const fail = (why: string) => {
    if (closed) return;
    log(warned ? 'debug' : 'warn', 'push channel unavailable; polling continues', { error: why });
    warned = true;
  };

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(retry);
      socket?.terminate();
    },
  };
}

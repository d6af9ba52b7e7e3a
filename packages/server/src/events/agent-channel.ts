import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AgentChannelMessage } from '@buildd/protocol';
import { WebSocket, WebSocketServer } from 'ws';
import type { Db } from '../db/index.ts';
import { apiKeyPattern, hashApiKey } from '../ids.ts';
import { findAccountByKeyHash } from '../store/api-keys.ts';
import { answerOfWorker, pendingMessagesOfTask } from '../store/worker-input.ts';
import { workerHolder } from '../store/workers.ts';
import type { Bus } from './bus.ts';
import type { HintDispatcher } from './hint-dispatch.ts';
import type { StreamGuard } from './stream-guard.ts';

interface Connection {
  socket: WebSocket;
  accountId: string;
  agentId: string | undefined;
  /** Whether the peer answered since the last ping (a half-open peer never does). */
  alive: boolean;
}

/** How often the server pings each agent; a peer that missed one ping's pong by the next is terminated. */
export const defaultChannelPingMs = 25_000;

export const agentChannelPath = '/api/agents/channel';

/**
 * The spec's "WebSocket connection for real-time task push". The server pushes hints (`tasks_available`)
 * and commands (`cancel` a worker); the agent still decides nothing from a hint alone: it claims over
 * HTTP and keeps polling, so a dropped socket only costs latency. Which agents hear a hint is the
 * HintDispatcher's choice (about one per claimable task, not all of them).
 */
export class AgentChannel {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly connections = new Set<Connection>();
  private readonly offs: Array<() => void> = [];
  private readonly pingTimer: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    bus: Bus,
    private readonly guard: StreamGuard,
    private readonly hints: HintDispatcher,
    pingMs = defaultChannelPingMs,
  ) {
    this.offs.push(bus.on('buildd_cancel', (workerId) => void this.cancel(workerId)));
    this.offs.push(bus.on('buildd_worker_input', (workerId) => void this.pushWorkerInput(workerId)));
    // Pings keep idle sockets alive through proxies and reveal dead peers: a half-open connection (the
    // agent's machine gone, a link down) sends no close, and would count as connected, and be hinted, forever.
    this.pingTimer = setInterval(() => {
      for (const c of this.connections) {
        if (!c.alive) {
          c.socket.terminate();
          continue;
        }
        c.alive = false;
        if (c.socket.readyState === WebSocket.OPEN) c.socket.ping();
      }
    }, pingMs);
    this.pingTimer.unref();
  }

  /** Handles an HTTP upgrade on the channel path: Bearer auth, then the socket joins. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const key = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!key || !apiKeyPattern.test(key)) return refuse(401, 'Unauthorized');
    const found = await findAccountByKeyHash(this.db, hashApiKey(key)).catch(() => undefined);
    const accountId = found?.id;
    if (!found || !accountId) return refuse(401, 'Unauthorized');
    const keyId = found.key_id;
    const agentId = new URL(req.url ?? '/', 'http://x').searchParams.get('agentId') ?? undefined;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: Connection = { socket: ws, accountId, agentId, alive: true };
      this.connections.add(conn);
      const idle = this.hints.add({
        accountId,
        agentId,
        wake: () => this.send(conn, { type: 'tasks_available' }),
      });
      const heard = () => {
        conn.alive = true;
      };
      ws.on('pong', heard);
      ws.on('ping', heard);
      ws.on('message', heard);
      // A revoked key loses its channel within the guard's re-check (the key cache's lifetime).
      const unwatch = this.guard.watch({
        keyId,
        close: (reason) => ws.close(reason === 'shutdown' ? 1001 : 1008, `key ${reason}`),
      });
      const gone = () => {
        this.connections.delete(conn);
        idle();
        unwatch();
      };
      ws.on('close', gone);
      ws.on('error', gone);
      // Agents only listen; anything they send is ignored (but proves the peer alive).
      this.send(conn, { type: 'hello', agentId });
    });
  }

  private send(conn: Connection, msg: AgentChannelMessage): void {
    if (conn.socket.readyState === WebSocket.OPEN) conn.socket.send(JSON.stringify(msg));
  }

  private async cancel(workerId: string): Promise<void> {
    const w = await workerHolder(this.db, workerId).catch(() => undefined);
    if (!w) return;
    for (const c of this.connections) {
      if (c.accountId === w.account_id && (c.agentId === undefined || c.agentId === w.agent_id)) {
        this.send(c, { type: 'cancel', workerId, reason: 'cancelled' });
      }
    }
  }

  /**
   * Pushes a live worker's pending input (its question's answer, messages for its session) to the agent that
   * holds it. Read from the database, so every replica sends the same; the agent takes each once (by id),
   * says which messages it delivered, and polls for whatever a dropped socket lost.
   */
  private async pushWorkerInput(workerId: string): Promise<void> {
    const holder = await workerHolder(this.db, workerId).catch(() => undefined);
    if (!holder) return;
    const targets = [...this.connections].filter(
      (c) => c.accountId === holder.account_id && (c.agentId === undefined || c.agentId === holder.agent_id),
    );
    if (targets.length === 0 || !['claimed', 'running', 'waiting_input'].includes(holder.status)) return;
    const [answer, messages] = await Promise.all([
      answerOfWorker(this.db, workerId),
      pendingMessagesOfTask(this.db, holder.task_id),
    ]).catch(() => [undefined, []] as const);
    for (const c of targets) {
      if (answer) this.send(c, { type: 'answer', workerId, ...answer });
      for (const m of messages) this.send(c, { type: 'message', workerId, id: m.id, text: m.text });
    }
  }

  /** How many agents are connected (for /healthz and tests). */
  get size(): number {
    return this.connections.size;
  }

  close(): void {
    clearInterval(this.pingTimer);
    for (const off of this.offs) off();
    for (const c of this.connections) c.socket.terminate();
    this.connections.clear();
    this.wss.close();
  }
}

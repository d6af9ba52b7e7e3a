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
import type { StreamGuard } from './stream-guard.ts';

interface Connection {
  socket: WebSocket;
  accountId: string;
  agentId: string | undefined;
  lastHint: number;
}

export const agentChannelPath = '/api/agents/channel';

/**
 * The spec's "WebSocket connection for real-time task push". The server pushes hints (`tasks_available`)
 * and commands (`cancel` a worker); the agent still decides nothing from a hint alone: it claims over
 * HTTP and keeps polling, so a dropped socket only costs latency.
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
  ) {
    this.offs.push(bus.on('buildd_tasks', () => this.hintAll()));
    this.offs.push(bus.on('buildd_cancel', (workerId) => void this.cancel(workerId)));
    this.offs.push(bus.on('buildd_worker_input', (workerId) => void this.pushWorkerInput(workerId)));
    // Pings keep idle sockets alive through proxies and reveal dead peers.
    this.pingTimer = setInterval(() => {
      for (const c of this.connections) if (c.socket.readyState === WebSocket.OPEN) c.socket.ping();
    }, 25_000);
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
      const conn: Connection = { socket: ws, accountId, agentId, lastHint: 0 };
      this.connections.add(conn);
      // A revoked key loses its channel within the guard's re-check (the key cache's lifetime).
      const unwatch = this.guard.watch({
        keyId,
        close: (reason) => ws.close(reason === 'shutdown' ? 1001 : 1008, `key ${reason}`),
      });
      const gone = () => {
        this.connections.delete(conn);
        unwatch();
      };
      ws.on('close', gone);
      ws.on('error', gone);
      // Agents only listen; anything they send is ignored.
      this.send(conn, { type: 'hello', agentId });
    });
  }

  private send(conn: Connection, msg: AgentChannelMessage): void {
    if (conn.socket.readyState === WebSocket.OPEN) conn.socket.send(JSON.stringify(msg));
  }

  /** Tells every agent that tasks may be claimable; at most a few hints a second per socket. */
  private hintAll(): void {
    const now = Date.now();
    for (const c of this.connections) {
      if (now - c.lastHint < 100) continue;
      c.lastHint = now;
      this.send(c, { type: 'tasks_available' });
    }
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

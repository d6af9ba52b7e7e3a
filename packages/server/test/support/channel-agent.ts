import WebSocket from 'ws';
import { apiClient } from './api.ts';

export interface ChannelAgentOptions {
  /** The replica its push channel connects to. */
  channelUrl: string;
  /** The replica its claims go to (default: the channel's). */
  claimUrl?: string;
  key: string;
  agentId: string;
  workspaceIds?: string[];
  capabilities?: string[];
  maxTasks?: number;
  /** Ignore hints (a peer that is connected but never claims). */
  deaf?: boolean;
}

/**
 * A simulated idle agent, as a load generator would run thousands of: a push channel, one claim at start (the
 * real agent's claim-on-connect, which also registers what it may claim), then a claim over HTTP only when
 * the channel hints. It never polls, so whatever it claims was dispatched by a hint.
 */
export async function channelAgent(opts: ChannelAgentOptions) {
  const api = apiClient(opts.claimUrl ?? opts.channelUrl, opts.key);
  const state = {
    hints: 0,
    /** Claim requests caused by hints. */
    hintClaims: 0,
    claimed: [] as Array<{ id: string; taskId: string }>,
    onClaimed: undefined as undefined | ((worker: { id: string; taskId: string }, at: number) => void),
  };
  const claim = async () => {
    const res = await api.post('/api/workers/claim', {
      maxTasks: opts.maxTasks ?? 1,
      authType: 'api',
      agentId: opts.agentId,
      capabilities: opts.capabilities ?? [],
      ...(opts.workspaceIds ? { workspaceIds: opts.workspaceIds } : {}),
    });
    const at = performance.now();
    for (const w of res.body?.workers ?? []) {
      state.claimed.push(w);
      state.onClaimed?.(w, at);
    }
  };
  const socket = new WebSocket(
    `${opts.channelUrl.replace('http', 'ws')}/api/agents/channel?agentId=${encodeURIComponent(opts.agentId)}`,
    { headers: { authorization: `Bearer ${opts.key}` } },
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  await claim();
  socket.on('message', (raw) => {
    if (JSON.parse(String(raw)).type !== 'tasks_available') return;
    state.hints += 1;
    if (opts.deaf) return;
    state.hintClaims += 1;
    void claim();
  });
  return Object.assign(state, {
    close() {
      socket.terminate();
    },
  });
}

export type ChannelAgent = Awaited<ReturnType<typeof channelAgent>>;

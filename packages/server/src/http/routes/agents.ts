import { Hono } from 'hono';
import { toAgent } from '../../db/rows.ts';
import { listAgents } from '../../store/agents.ts';
import type { AppEnv } from '../context.ts';

/** Running agents: your own, or everyone's for an admin; stale ones are marked offline. */
export function agentRoutes() {
  const r = new Hono<AppEnv>();
  r.get('/agents', async (c) => {
    const rows = await listAgents(c.var.deps.db, c.var.account, c.var.deps.agentOfflineSeconds);
    return c.json({ items: rows.map(toAgent), nextCursor: null });
  });
  return r;
}

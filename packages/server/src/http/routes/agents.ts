import { Hono } from 'hono';
import { type AgentRow, toAgent } from '../../db/rows.ts';
import type { AppEnv } from '../context.ts';

/** Running agents: your own, or everyone's for an admin; stale ones are marked offline. */
export function agentRoutes() {
  const r = new Hono<AppEnv>();
  r.get('/agents', async (c) => {
    const me = c.var.account;
    const rows = await c.var.deps.db.query<AgentRow>(
      `SELECT *, last_seen_at > now() - make_interval(secs => $3) AS online FROM agents
        WHERE $1::boolean OR account_id = $2 ORDER BY last_seen_at DESC LIMIT 500`,
      [me.level === 'admin', me.id, c.var.deps.agentOfflineSeconds],
    );
    return c.json({ items: rows.map(toAgent), nextCursor: null });
  });
  return r;
}

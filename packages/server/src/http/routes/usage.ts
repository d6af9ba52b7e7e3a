import { UsageQuery } from '@buildd/protocol';
import { Hono } from 'hono';
import { notFound } from '../../errors.ts';
import { usageDays } from '../../store/usage.ts';
import { readQuery } from '../body.ts';
import type { AppEnv } from '../context.ts';

/** `GET /api/usage?days=&accountId=`: cost and tokens per UTC day; admins see every account, members their own. */
export function usageRoutes() {
  const r = new Hono<AppEnv>();
  r.get('/usage', async (c) => {
    const q = readQuery(c, UsageQuery);
    const me = c.var.account;
    if (me.level !== 'admin' && q.accountId !== undefined && q.accountId !== me.id) {
      throw notFound('account', q.accountId);
    }
    const accountId = me.level === 'admin' ? (q.accountId ?? null) : me.id;
    const items = await usageDays(c.var.deps.db, accountId, q.days ?? 30);
    return c.json({ items, nextCursor: null });
  });
  return r;
}

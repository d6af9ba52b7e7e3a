import { CreateAccountBody, CreateKeyBody, PageQuery, UpdateAccountBody } from '@buildd/protocol';
import { Hono } from 'hono';
import type { AccountRow, ApiKeyRow } from '../../db/rows.ts';
import { toAccount, toApiKey } from '../../db/rows.ts';
import { notFound } from '../../errors.ts';
import { createAccount, createApiKey } from '../../store/accounts.ts';
import { forgetKeys, requireAdmin } from '../auth.ts';
import { readJson, readQuery } from '../body.ts';
import type { AppEnv } from '../context.ts';
import { pageOf } from '../paging.ts';

/** Accounts and API keys: admins manage them; everyone may read themselves. */
export function accountRoutes() {
  const r = new Hono<AppEnv>();

  r.get('/me', (c) => {
    const { keyId: _k, keyPrefix, ...account } = c.var.account;
    return c.json({ account, keyPrefix });
  });

  r.post('/accounts', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, CreateAccountBody);
    const { db, log } = c.var.deps;
    const created = await db.transaction((tx) => createAccount(tx, body));
    log.info({ account: created.account.id, by: c.var.account.id }, 'account created');
    return c.json({ account: toAccount(created.account), apiKey: created.apiKey }, 201);
  });

  r.get('/accounts', async (c) => {
    requireAdmin(c.var.account);
    const q = readQuery(c, PageQuery);
    const limit = q.limit ?? 100;
    const rows = await c.var.deps.db.query<AccountRow>(
      'SELECT * FROM accounts WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2',
      [q.cursor ?? null, limit + 1],
    );
    return c.json(pageOf(rows, limit, toAccount, (r) => r.id));
  });

  r.get('/accounts/:id', async (c) => {
    const me = c.var.account;
    const id = c.req.param('id');
    if (me.level !== 'admin' && id !== me.id) throw notFound('account', id);
    const rows = await c.var.deps.db.query<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id]);
    if (!rows[0]) throw notFound('account', id);
    return c.json(toAccount(rows[0]));
  });

  r.patch('/accounts/:id', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, UpdateAccountBody);
    const id = c.req.param('id');
    const rows = await c.var.deps.db.query<AccountRow>(
      `UPDATE accounts SET
         name = COALESCE($2, name), level = COALESCE($3, level),
         max_concurrent_workers = COALESCE($4, max_concurrent_workers),
         max_concurrent_sessions = COALESCE($5, max_concurrent_sessions),
         max_cost_per_day_usd = CASE WHEN $6::boolean THEN $7 ELSE max_cost_per_day_usd END
       WHERE id = $1 RETURNING *`,
      [
        id,
        body.name ?? null,
        body.level ?? null,
        body.maxConcurrentWorkers ?? null,
        body.maxConcurrentSessions ?? null,
        body.maxCostPerDayUsd !== undefined,
        body.maxCostPerDayUsd ?? null,
      ],
    );
    if (!rows[0]) throw notFound('account', id);
    forgetKeys();
    return c.json(toAccount(rows[0]));
  });

  r.post('/accounts/:id/keys', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, CreateKeyBody);
    const id = c.req.param('id');
    const { db } = c.var.deps;
    const account = (await db.query<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id]))[0];
    if (!account) throw notFound('account', id);
    const { key, apiKey } = await createApiKey(db, id, account.type, body.name ?? null);
    return c.json({ key: toApiKey(key), apiKey }, 201);
  });

  r.get('/accounts/:id/keys', async (c) => {
    requireAdmin(c.var.account);
    const id = c.req.param('id');
    const { db } = c.var.deps;
    if (!(await db.query('SELECT 1 FROM accounts WHERE id = $1', [id]))[0]) throw notFound('account', id);
    const rows = await db.query<ApiKeyRow>(
      `SELECT id, account_id, name, prefix, created_at, last_used_at, revoked_at
         FROM api_keys WHERE account_id = $1 ORDER BY created_at, id`,
      [id],
    );
    return c.json({ items: rows.map(toApiKey), nextCursor: null });
  });

  r.delete('/keys/:id', async (c) => {
    requireAdmin(c.var.account);
    const id = c.req.param('id');
    const rows = await c.var.deps.db.query<ApiKeyRow>(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1
       RETURNING id, account_id, name, prefix, created_at, last_used_at, revoked_at`,
      [id],
    );
    if (!rows[0]) throw notFound('API key', id);
    forgetKeys();
    return c.json(toApiKey(rows[0]));
  });

  return r;
}

import { CreateAccountBody, CreateKeyBody, PageQuery, UpdateAccountBody } from '@buildd/protocol';
import { Hono } from 'hono';
import { isAdmin } from '../../caller.ts';
import { toAccount, toApiKey } from '../../db/rows.ts';
import { notFound } from '../../errors.ts';
import { createAccount, findAccount, listAccounts, updateAccount } from '../../store/accounts.ts';
import { createApiKey, listKeys, revokeKey } from '../../store/api-keys.ts';
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
    const rows = await listAccounts(c.var.deps.db, q.cursor ?? null, limit);
    return c.json(pageOf(rows, limit, toAccount, (r) => r.id));
  });

  r.get('/accounts/:id', async (c) => {
    const me = c.var.account;
    const id = c.req.param('id');
    if (!isAdmin(me) && id !== me.id) throw notFound('account', id);
    const account = await findAccount(c.var.deps.db, id);
    if (!account) throw notFound('account', id);
    return c.json(toAccount(account));
  });

  r.patch('/accounts/:id', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, UpdateAccountBody);
    const id = c.req.param('id');
    const account = await updateAccount(c.var.deps.db, id, body);
    if (!account) throw notFound('account', id);
    forgetKeys();
    return c.json(toAccount(account));
  });

  r.post('/accounts/:id/keys', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, CreateKeyBody);
    const id = c.req.param('id');
    const { db } = c.var.deps;
    const account = await findAccount(db, id);
    if (!account) throw notFound('account', id);
    const { key, apiKey } = await createApiKey(db, id, account.type, body.name ?? null);
    return c.json({ key: toApiKey(key), apiKey }, 201);
  });

  r.get('/accounts/:id/keys', async (c) => {
    requireAdmin(c.var.account);
    const id = c.req.param('id');
    const { db } = c.var.deps;
    if (!(await findAccount(db, id))) throw notFound('account', id);
    return c.json({ items: (await listKeys(db, id)).map(toApiKey), nextCursor: null });
  });

  r.delete('/keys/:id', async (c) => {
    requireAdmin(c.var.account);
    const id = c.req.param('id');
    const key = await revokeKey(c.var.deps.db, id);
    if (!key) throw notFound('API key', id);
    forgetKeys();
    return c.json(toApiKey(key));
  });

  return r;
}

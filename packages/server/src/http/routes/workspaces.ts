import { CreateWorkspaceBody, PageQuery, SetMemberBody, UpdateWorkspaceBody } from '@buildd/protocol';
import { type Context, Hono } from 'hono';
import { toWorkspace } from '../../db/rows.ts';
import { notFound } from '../../errors.ts';
import { findVisibleWorkspace } from '../../store/access.ts';
import { findAccount } from '../../store/accounts.ts';
import {
  insertWorkspace,
  listMembers,
  listWorkspaces,
  setMember,
  updateWorkspace,
} from '../../store/workspaces.ts';
import { requireAdmin } from '../auth.ts';
import { readJson, readQuery } from '../body.ts';
import type { AppEnv } from '../context.ts';
import { pageOf } from '../paging.ts';

/** The body's GitHub token encrypted with the server's key (null removes it, undefined keeps it). */
const sealedToken = (c: Context<AppEnv>, token: string | null | undefined) =>
  token == null ? token : c.var.deps.github.keys.seal(token);

/** Workspaces (admins create and change them) and their per-account grants. */
export function workspaceRoutes() {
  const r = new Hono<AppEnv>();

  r.post('/workspaces', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, CreateWorkspaceBody);
    const ws = await insertWorkspace(c.var.deps.db, body, sealedToken(c, body.githubToken) ?? null);
    return c.json(toWorkspace(ws), 201);
  });

  r.get('/workspaces', async (c) => {
    const q = readQuery(c, PageQuery);
    const limit = q.limit ?? 100;
    const rows = await listWorkspaces(c.var.deps.db, c.var.account, q.cursor ?? null, limit);
    return c.json(pageOf(rows, limit, toWorkspace, (w) => w.name));
  });

  r.get('/workspaces/:id', async (c) => {
    const ws = await findVisibleWorkspace(c.var.deps.db, c.var.account, c.req.param('id'));
    return c.json(toWorkspace(ws));
  });

  r.patch('/workspaces/:id', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, UpdateWorkspaceBody);
    const { db, bus } = c.var.deps;
    const ws = await findVisibleWorkspace(db, c.var.account, c.req.param('id'));
    const updated = await updateWorkspace(db, ws.id, body, sealedToken(c, body.githubToken));
    await bus.publish('buildd_tasks');
    return c.json(toWorkspace(updated));
  });

  r.put('/workspaces/:id/members/:accountId', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, SetMemberBody);
    const { db, bus } = c.var.deps;
    const ws = await findVisibleWorkspace(db, c.var.account, c.req.param('id'));
    const accountId = c.req.param('accountId');
    if (!(await findAccount(db, accountId))) throw notFound('account', accountId);
    await setMember(db, ws.id, accountId, body);
    await bus.publish('buildd_tasks');
    return c.json({ workspaceId: ws.id, accountId, canClaim: body.canClaim, canCreate: body.canCreate });
  });

  r.get('/workspaces/:id/members', async (c) => {
    requireAdmin(c.var.account);
    const { db } = c.var.deps;
    const ws = await findVisibleWorkspace(db, c.var.account, c.req.param('id'));
    const rows = await listMembers(db, ws.id);
    return c.json({
      items: rows.map((m) => ({
        workspaceId: ws.id,
        accountId: m.account_id,
        canClaim: m.can_claim,
        canCreate: m.can_create,
      })),
      nextCursor: null,
    });
  });

  return r;
}

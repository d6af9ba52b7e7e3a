import { CreateWorkspaceBody, PageQuery, SetMemberBody, UpdateWorkspaceBody } from '@buildd/protocol';
import { Hono } from 'hono';
import type { WorkspaceRow } from '../../db/rows.ts';
import { toWorkspace } from '../../db/rows.ts';
import { ApiError, notFound } from '../../errors.ts';
import { newId } from '../../ids.ts';
import { findVisibleWorkspace, visibleWorkspaceSql } from '../../store/access.ts';
import { requireAdmin } from '../auth.ts';
import { readJson, readQuery } from '../body.ts';
import type { AppEnv } from '../context.ts';
import { pageOf } from '../paging.ts';

const isUniqueViolation = (err: unknown) => (err as { code?: string })?.code === '23505';
const nameTaken = (name: string) => new ApiError('conflict', `A workspace named "${name}" already exists.`);

/** Workspaces (admins create and change them) and their per-account grants. */
export function workspaceRoutes() {
  const r = new Hono<AppEnv>();

  r.post('/workspaces', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, CreateWorkspaceBody);
    try {
      const rows = await c.var.deps.db.query<WorkspaceRow>(
        `INSERT INTO workspaces (id, name, repo_url, default_branch, access, max_running_tasks, config)
         VALUES ($1, $2, $3, COALESCE($4, 'main'), COALESCE($5, 'open'), $6, $7::jsonb) RETURNING *`,
        [
          newId('ws'),
          body.name,
          body.repoUrl ?? null,
          body.defaultBranch ?? null,
          body.access ?? null,
          body.maxRunningTasks ?? null,
          JSON.stringify(body.config ?? {}),
        ],
      );
      return c.json(toWorkspace(rows[0]!), 201);
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(body.name);
      throw err;
    }
  });

  r.get('/workspaces', async (c) => {
    const q = readQuery(c, PageQuery);
    const limit = q.limit ?? 100;
    const me = c.var.account;
    const rows = await c.var.deps.db.query<WorkspaceRow>(
      `SELECT w.* FROM workspaces w WHERE ${visibleWorkspaceSql(1, 2)} AND ($3::text IS NULL OR w.name > $3)
        ORDER BY w.name LIMIT $4`,
      [me.id, me.level === 'admin', q.cursor ?? null, limit + 1],
    );
    return c.json(pageOf(rows, limit, toWorkspace, (w) => w.name));
  });

  r.get('/workspaces/:id', async (c) => {
    const ws = await findVisibleWorkspace(c.var.deps.db, c.var.account, c.req.param('id'));
    return c.json(toWorkspace(ws));
  });

  r.patch('/workspaces/:id', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, UpdateWorkspaceBody);
    const { db } = c.var.deps;
    const ws = await findVisibleWorkspace(db, c.var.account, c.req.param('id'));
    try {
      const rows = await db.query<WorkspaceRow>(
        `UPDATE workspaces SET
           name = COALESCE($2, name),
           repo_url = CASE WHEN $3::boolean THEN $4 ELSE repo_url END,
           default_branch = COALESCE($5, default_branch),
           access = COALESCE($6, access),
           max_running_tasks = CASE WHEN $7::boolean THEN $8::integer ELSE max_running_tasks END,
           config = COALESCE($9::jsonb, config)
         WHERE id = $1 RETURNING *`,
        [
          ws.id,
          body.name ?? null,
          body.repoUrl !== undefined,
          body.repoUrl ?? null,
          body.defaultBranch ?? null,
          body.access ?? null,
          body.maxRunningTasks !== undefined,
          body.maxRunningTasks ?? null,
          body.config ? JSON.stringify(body.config) : null,
        ],
      );
      await c.var.deps.bus.publish('buildd_tasks');
      return c.json(toWorkspace(rows[0]!));
    } catch (err) {
      if (isUniqueViolation(err) && body.name) throw nameTaken(body.name);
      throw err;
    }
  });

  r.put('/workspaces/:id/members/:accountId', async (c) => {
    requireAdmin(c.var.account);
    const body = await readJson(c, SetMemberBody);
    const { db } = c.var.deps;
    const ws = await findVisibleWorkspace(db, c.var.account, c.req.param('id'));
    const accountId = c.req.param('accountId');
    const exists = await db.query('SELECT 1 FROM accounts WHERE id = $1', [accountId]);
    if (!exists[0]) throw notFound('account', accountId);
    await db.query(
      `INSERT INTO account_workspaces (account_id, workspace_id, can_claim, can_create) VALUES ($1, $2, $3, $4)
       ON CONFLICT (account_id, workspace_id) DO UPDATE SET can_claim = $3, can_create = $4`,
      [accountId, ws.id, body.canClaim, body.canCreate],
    );
    await c.var.deps.bus.publish('buildd_tasks');
    return c.json({ workspaceId: ws.id, accountId, canClaim: body.canClaim, canCreate: body.canCreate });
  });

  r.get('/workspaces/:id/members', async (c) => {
    requireAdmin(c.var.account);
    const { db } = c.var.deps;
    const ws = await findVisibleWorkspace(db, c.var.account, c.req.param('id'));
    const rows = await db.query<{ account_id: string; can_claim: boolean; can_create: boolean }>(
      'SELECT * FROM account_workspaces WHERE workspace_id = $1 ORDER BY account_id',
      [ws.id],
    );
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

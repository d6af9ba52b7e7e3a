import type { AccountType, AuthType, ClaimReason } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { AccountRow, TaskRow, WorkerRow, WorkspaceRow } from '../db/rows.ts';
import { newId } from '../ids.ts';
import { explainEmptyClaim } from './claim-diagnostics.ts';
import { slotsLeft } from './limits.ts';

export interface ClaimRequest {
  accountId: string;
  agentId: string;
  authType: AuthType;
  maxTasks: number;
  capabilities: string[];
  /** Workspace ids or names; null = every workspace the account may claim in. */
  workspaces: string[] | null;
  excludeTaskIds: string[];
  leaseSeconds: number;
  retrySeconds: number;
}

export interface Claimed {
  worker: WorkerRow;
  task: TaskRow;
  workspace: WorkspaceRow;
}

export type ClaimResult = { claimed: Claimed[] } | { claimed: []; reason: ClaimReason; message: string };

/**
 * Hands out up to `maxTasks` tasks to one agent in ONE short transaction (DESIGN §4):
 * the account row is locked first, so concurrent claims of one account queue up behind each other and the
 * limits counted from live rows stay exact; candidate tasks are locked with FOR UPDATE SKIP LOCKED, so
 * concurrent claimers never wait on or take the same task; each taken task gets one worker with a lease.
 * Workspaces with a running limit are locked too (in id order, so claims cannot deadlock), because two
 * accounts could otherwise both take the last free place.
 */
export async function claimTasks(tx: Queryable, req: ClaimRequest): Promise<ClaimResult> {
  const account = (
    await tx.query<AccountRow>('SELECT * FROM accounts WHERE id = $1 FOR UPDATE', [req.accountId])
  )[0];
  if (!account) return { claimed: [], reason: 'no_workspaces', message: 'The account no longer exists.' };
  const slots = await slotsLeft(tx, account, req.authType, req.maxTasks, req.retrySeconds);

  const isAdmin = account.level === 'admin';
  const filter = req.workspaces
    ? (
        await tx.query<{ id: string }>(
          'SELECT id FROM workspaces WHERE id = ANY($1::text[]) OR name = ANY($1::text[])',
          [req.workspaces],
        )
      ).map((w) => w.id)
    : null;
  if (filter && filter.length === 0) {
    return {
      claimed: [],
      reason: 'no_workspaces',
      message: `No workspace matches ${req.workspaces?.join(', ')}.`,
    };
  }

  const room = await lockLimitedWorkspaces(tx, filter);
  const fullNow = () => [...room].filter(([, left]) => left <= 0).map(([id]) => id);
  const full = fullNow();
  const chosen: TaskRow[] = [];
  // A limited workspace can fill up part-way through a batch of candidates; its surplus tasks must not hide
  // claimable ones elsewhere, so ask again without it. Each extra round fills at least one more workspace.
  for (let excluded = full; ; excluded = fullNow()) {
    const wanted = slots - chosen.length;
    const limit = room.size > 0 ? Math.min(wanted * 4, 400) : wanted;
    const candidates = await tx.query<TaskRow>(
      `SELECT t.* FROM tasks t
       JOIN workspaces w ON w.id = t.workspace_id
       LEFT JOIN account_workspaces aw ON aw.workspace_id = w.id AND aw.account_id = $1
      WHERE t.status = 'pending'
        AND (w.access = 'open' OR $2::boolean OR aw.can_claim)
        AND ($3::text[] IS NULL OR t.workspace_id = ANY($3::text[]))
        AND (t.runner_preference = 'any' OR t.runner_preference = $4)
        AND t.required_capabilities <@ $5::text[]
        AND (t.not_before IS NULL OR t.not_before <= now())
        AND NOT COALESCE(t.cooldown_agent_id = $6 AND t.cooldown_until > now(), false)
        AND NOT (t.id = ANY($7::text[]))
        AND NOT (t.workspace_id = ANY($8::text[]))
        AND NOT EXISTS (SELECT 1 FROM unnest(t.depends_on) AS d(id) LEFT JOIN tasks dt ON dt.id = d.id
                         WHERE dt.status IS DISTINCT FROM 'completed')
      ORDER BY t.priority DESC, t.seq
      LIMIT $9
      FOR UPDATE OF t SKIP LOCKED`,
      [
        account.id,
        isAdmin,
        filter,
        account.type satisfies AccountType,
        req.capabilities,
        req.agentId,
        req.excludeTaskIds,
        excluded,
        limit,
      ],
    );
    chosen.push(...takeWithinRoom(candidates, room, wanted));
    if (chosen.length >= slots || candidates.length < limit) break;
  }
  if (chosen.length === 0) {
    const why = await explainEmptyClaim(tx, account, req, filter, full);
    return { claimed: [], ...why };
  }
  return { claimed: await assign(tx, account, req, chosen) };
}

/** Locks the workspaces that have a running limit and says how many more tasks each may start. */
async function lockLimitedWorkspaces(tx: Queryable, filter: string[] | null): Promise<Map<string, number>> {
  const locked = await tx.query<{ id: string; max_running_tasks: number }>(
    `SELECT id, max_running_tasks FROM workspaces
      WHERE max_running_tasks IS NOT NULL AND ($1::text[] IS NULL OR id = ANY($1::text[]))
      ORDER BY id FOR UPDATE`,
    [filter],
  );
  const room = new Map<string, number>();
  if (locked.length === 0) return room;
  const live = await tx.query<{ workspace_id: string; n: number }>(
    `SELECT workspace_id, count(*)::int AS n FROM workers
      WHERE status IN ('claimed', 'running') AND workspace_id = ANY($1::text[]) GROUP BY workspace_id`,
    [locked.map((w) => w.id)],
  );
  for (const w of locked)
    room.set(w.id, w.max_running_tasks - (live.find((l) => l.workspace_id === w.id)?.n ?? 0));
  return room;
}

/** Keeps candidates in order while each limited workspace still has room. */
function takeWithinRoom(candidates: TaskRow[], room: Map<string, number>, slots: number): TaskRow[] {
  const taken: TaskRow[] = [];
  for (const task of candidates) {
    if (taken.length >= slots) break;
    const left = room.get(task.workspace_id);
    if (left !== undefined) {
      if (left <= 0) continue;
      room.set(task.workspace_id, left - 1);
    }
    taken.push(task);
  }
  return taken;
}

/** Marks the chosen tasks assigned and inserts one worker with a lease for each. */
async function assign(
  tx: Queryable,
  account: AccountRow,
  req: ClaimRequest,
  chosen: TaskRow[],
): Promise<Claimed[]> {
  const tasks = await tx.query<TaskRow>(
    `UPDATE tasks SET status = 'assigned', attempts = attempts + 1, updated_at = now(),
            started_at = COALESCE(started_at, now())
      WHERE id = ANY($1::text[]) RETURNING *`,
    [chosen.map((t) => t.id)],
  );
  const workspaces = await tx.query<WorkspaceRow>('SELECT * FROM workspaces WHERE id = ANY($1::text[])', [
    [...new Set(tasks.map((t) => t.workspace_id))],
  ]);
  const ordered = chosen.map((c) => tasks.find((t) => t.id === c.id)!);
  const plan = ordered.map((task) => {
    const workspace = workspaces.find((w) => w.id === task.workspace_id)!;
    const prefix = workspace.config?.branchPrefix ?? 'buildd/';
    return {
      task,
      workspace,
      id: newId('wkr'),
      branch: `${prefix}${task.id.toLowerCase()}-${task.attempts}`,
    };
  });
  const workers = await tx.query<WorkerRow>(
    `INSERT INTO workers (id, task_id, account_id, agent_id, auth_type, branch, workspace_id, lease_expires_at)
     SELECT p.id, p.task_id, $2, $3, $4, p.branch, p.workspace_id, now() + make_interval(secs => $5)
       FROM unnest($1::text[], $6::text[], $7::text[], $8::text[]) AS p(id, task_id, branch, workspace_id)
     RETURNING *`,
    [
      plan.map((p) => p.id),
      account.id,
      req.agentId,
      req.authType,
      req.leaseSeconds,
      plan.map((p) => p.task.id),
      plan.map((p) => p.branch),
      plan.map((p) => p.workspace.id),
    ],
  );
  return plan.map((p) => ({
    task: p.task,
    workspace: p.workspace,
    worker: workers.find((w) => w.id === p.id)!,
  }));
}

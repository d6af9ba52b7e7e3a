import type { Queryable } from '../db/index.ts';
import type { TaskRow } from '../db/rows.ts';
import type { ClaimRequest } from './claim.ts';

/**
 * Pending tasks this agent may take, best first (priority, then age), locked with FOR UPDATE SKIP LOCKED:
 * concurrent claimers never wait on each other's candidates and never get the same one. Every rule of
 * DESIGN §4 step 3 is a condition here: workspace access, the agent's workspace filter (ids or names),
 * runner preference, capabilities, completed dependencies, backoff and per-agent cool-down.
 */
export async function lockCandidates(
  tx: Queryable,
  req: ClaimRequest,
  skipWorkspaces: string[],
  skipTasks: string[],
  limit: number,
): Promise<TaskRow[]> {
  return tx.query<TaskRow>(
    `SELECT t.* FROM tasks t
       JOIN workspaces w ON w.id = t.workspace_id
       LEFT JOIN account_workspaces aw ON aw.workspace_id = w.id AND aw.account_id = $1
      WHERE t.status = 'pending'
        AND (w.access = 'open' OR $2::boolean OR aw.can_claim)
        AND ($3::text[] IS NULL OR w.id = ANY($3::text[]) OR w.name = ANY($3::text[]))
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
      req.accountId,
      req.isAdmin,
      req.workspaces,
      req.accountType,
      req.capabilities,
      req.agentId,
      [...req.excludeTaskIds, ...skipTasks],
      skipWorkspaces,
      limit,
    ],
  );
}

/** Workspaces with a running limit, and how many more tasks each may start as far as committed rows say. */
export async function workspaceRoom(tx: Queryable, lock: string[] | null): Promise<Map<string, number>> {
  // Locking (in id order, so claims cannot deadlock) serializes the claims that compete for the last places.
  const rows = await tx.query<{ id: string; max_running_tasks: number }>(
    lock
      ? `SELECT id, max_running_tasks FROM workspaces
          WHERE id = ANY($1::text[]) AND max_running_tasks IS NOT NULL ORDER BY id FOR UPDATE`
      : `SELECT id, max_running_tasks FROM workspaces WHERE max_running_tasks IS NOT NULL AND $1::text[] IS NULL`,
    [lock],
  );
  const room = new Map<string, number>();
  if (rows.length === 0) return room;
  const live = await tx.query<{ workspace_id: string; n: number }>(
    `SELECT workspace_id, count(*)::int AS n FROM workers
      WHERE status IN ('claimed', 'running') AND workspace_id = ANY($1::text[]) GROUP BY workspace_id`,
    [rows.map((w) => w.id)],
  );
  for (const w of rows) {
    room.set(w.id, w.max_running_tasks - (live.find((l) => l.workspace_id === w.id)?.n ?? 0));
  }
  return room;
}

/** Keeps candidates in order while each limited workspace still has room. */
export function takeWithinRoom(candidates: TaskRow[], room: Map<string, number>, slots: number): TaskRow[] {
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

/** The ids of workspaces in `room` with no place left. */
export const fullWorkspaces = (room: Map<string, number>) =>
  [...room].filter(([, left]) => left <= 0).map(([id]) => id);

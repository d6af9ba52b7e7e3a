import type { AccountType, AuthType, ClaimReason } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';
import type { AccountRow, TaskRow, WorkerRow, WorkspaceRow } from '../db/rows.ts';
import { newId } from '../ids.ts';
import { fullWorkspaces, lockCandidates, takeWithinRoom, workspaceRoom } from './claim-candidates.ts';
import { explainEmptyClaim } from './claim-diagnostics.ts';
import { slotsLeft } from './limits.ts';

export interface ClaimRequest {
  accountId: string;
  accountType: AccountType;
  isAdmin: boolean;
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
 * Hands out up to `maxTasks` tasks to one agent in ONE short transaction (DESIGN §4).
 *
 * Why it is shaped this way: candidates are locked first with FOR UPDATE SKIP LOCKED, which never waits.
 * Only then is the account row locked, so that concurrent claims of one account queue up behind each other
 * and the limits, counted from live rows by a statement that starts after the lock is granted, stay exact.
 * While that lock is held there are just three round trips (lock, count, assign) before COMMIT: claims of
 * one account are serialized, so every statement under the lock is paid by every claimer behind it.
 * Workspaces with a running limit are locked after the account (in id order: no deadlock), because two
 * accounts could otherwise both take a workspace's last place.
 */
export async function claimTasks(tx: Queryable, req: ClaimRequest): Promise<ClaimResult> {
  const before = await workspaceRoom(tx, null);
  const anyLimited = before.size > 0;
  const looksFull = fullWorkspaces(before);
  const firstLimit = anyLimited ? Math.min(req.maxTasks * 4, 400) : req.maxTasks;
  let candidates = await lockCandidates(tx, req, looksFull, [], firstLimit);

  const account = (
    await tx.query<AccountRow>('SELECT * FROM accounts WHERE id = $1 FOR UPDATE', [req.accountId])
  )[0];
  if (!account) return { claimed: [], reason: 'no_workspaces', message: 'The account no longer exists.' };
  // A limit answers 429 even when there is nothing to do, so that agents wait for the reset, not poll.
  const slots = await slotsLeft(tx, account, req.authType, req.maxTasks, req.retrySeconds);
  if (candidates.length === 0) {
    return { claimed: [], ...(await explainEmptyClaim(tx, account, req, looksFull)) };
  }

  let chosen = candidates.slice(0, slots);
  if (anyLimited) {
    const limitedIds = [...new Set(candidates.map((t) => t.workspace_id))];
    const room = await workspaceRoom(tx, limitedIds);
    chosen = takeWithinRoom(candidates, room, slots);
    // A workspace that filled up must not hide claimable tasks elsewhere: ask again without it (and without
    // what is already chosen). Each extra round fills at least one more workspace, so this ends.
    while (chosen.length < slots && candidates.length === firstLimit && room.size > 0) {
      const wanted = slots - chosen.length;
      candidates = await lockCandidates(
        tx,
        req,
        [...looksFull, ...fullWorkspaces(room)],
        chosen.map((t) => t.id),
        Math.min(wanted * 4, 400),
      );
      const more = await workspaceRoom(
        tx,
        [...new Set(candidates.map((t) => t.workspace_id))].filter((id) => !room.has(id)),
      );
      for (const [id, left] of more) room.set(id, left);
      chosen.push(...takeWithinRoom(candidates, room, wanted));
      if (candidates.length < Math.min(wanted * 4, 400)) break;
    }
  }
  if (chosen.length === 0) {
    return {
      claimed: [],
      ...(await explainEmptyClaim(tx, account, req, fullWorkspaces(await workspaceRoom(tx, null)))),
    };
  }
  return { claimed: await assign(tx, req, chosen) };
}

/** Marks the chosen tasks assigned and inserts one worker with a lease for each, in one statement. */
async function assign(tx: Queryable, req: ClaimRequest, chosen: TaskRow[]): Promise<Claimed[]> {
  const rows = await tx.query<{ task: TaskRow; worker: WorkerRow; workspace: WorkspaceRow }>(
    `WITH plan AS (SELECT * FROM unnest($1::text[], $2::text[]) AS p(task_id, worker_id)),
     taken AS (
       UPDATE tasks SET status = 'assigned', attempts = attempts + 1, updated_at = now(),
              started_at = COALESCE(started_at, now())
         FROM plan WHERE tasks.id = plan.task_id
       RETURNING tasks.*, plan.worker_id),
     made AS (
       INSERT INTO workers (id, task_id, account_id, agent_id, auth_type, branch, workspace_id, lease_expires_at)
       SELECT taken.worker_id, taken.id, $3, $4, $5,
              COALESCE(ws.config->>'branchPrefix', 'buildd/') || lower(taken.id) || '-' || taken.attempts,
              taken.workspace_id, now() + make_interval(secs => $6)
         FROM taken JOIN workspaces ws ON ws.id = taken.workspace_id
       RETURNING *)
     SELECT to_jsonb(taken) - 'worker_id' AS task, to_jsonb(made) AS worker, to_jsonb(ws) AS workspace
       FROM taken JOIN made ON made.task_id = taken.id JOIN workspaces ws ON ws.id = taken.workspace_id`,
    [
      chosen.map((t) => t.id),
      chosen.map(() => newId('wkr')),
      req.accountId,
      req.agentId,
      req.authType,
      req.leaseSeconds,
    ],
  );
  return chosen.map((c) => rows.find((r) => r.task.id === c.id)!);
}

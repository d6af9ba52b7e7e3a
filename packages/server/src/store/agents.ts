import { type Caller, isAdmin } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import type { AgentRow } from '../db/rows.ts';

const lastWrite = new Map<string, { at: number; shape: string }>();

/** Remembers a running agent (name, host, version, capabilities) and when it was last heard from. */
export async function recordAgent(
  db: Queryable,
  accountId: string,
  body: {
    agentId: string;
    agentName?: string;
    host?: string;
    version?: string;
    capabilities: string[];
    maxTasks: number;
    sandboxed?: boolean;
  },
  workspaces: string[],
): Promise<void> {
  // Claims come every few seconds per agent; the row only needs writing when it changed or every 5 s.
  const key = `${accountId}\u0000${body.agentId}`;
  const shape = JSON.stringify([
    body.agentName,
    body.host,
    body.version,
    body.capabilities,
    body.maxTasks,
    workspaces,
    body.sandboxed,
  ]);
  const last = lastWrite.get(key);
  if (last && last.shape === shape && Date.now() - last.at < 5000) return;
  if (lastWrite.size > 10_000) lastWrite.clear();
  lastWrite.set(key, { at: Date.now(), shape });
  const [row] = await db.query<{ inserted: boolean }>(
    `INSERT INTO agents (account_id, id, name, host, version, capabilities, max_tasks, workspace_ids, sandboxed, last_seen_at)
     VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8::text[], $9, now())
     ON CONFLICT (account_id, id) DO UPDATE SET name = $3, host = $4, version = $5, capabilities = $6::text[],
       max_tasks = $7, workspace_ids = $8::text[], sandboxed = $9, last_seen_at = now(), online = true
     RETURNING (xmax = 0) AS inserted`,
    [
      accountId,
      body.agentId,
      body.agentName ?? body.agentId,
      body.host ?? null,
      body.version ?? null,
      body.capabilities,
      body.maxTasks,
      workspaces,
      body.sandboxed ?? null,
    ],
  );
  if (row?.inserted) await pruneAgents(db, accountId);
}

/** Agents kept per account, and how long one that stopped calling is still listed. */
export const agentLimits = { perAccount: 100, staleDays: 7 };

/**
 * Bounds an account's `agents` rows when a new one appears: those not seen for `staleDays`, and all but the
 * `perAccount` most recently seen, go (every claim with a new agentId would otherwise add a row for good).
 */
async function pruneAgents(db: Queryable, accountId: string): Promise<void> {
  await db.query(
    `DELETE FROM agents a
      WHERE a.account_id = $1
        AND (a.last_seen_at < now() - make_interval(days => $2)
             OR a.id IN (SELECT id FROM agents WHERE account_id = $1
                          ORDER BY last_seen_at DESC, id OFFSET $3))`,
    [accountId, agentLimits.staleDays, agentLimits.perAccount],
  );
}

/**
 * The caller's agents (everyone's for an admin), most recently seen first; `online` if seen lately, with
 * the number of live workers each holds (counted from the workers, never kept as a counter).
 */
export async function listAgents(db: Queryable, caller: Caller, offlineSeconds: number): Promise<AgentRow[]> {
  return db.query<AgentRow>(
    `SELECT a.*, a.online AND a.last_seen_at > now() - make_interval(secs => $3) AS online,
            (SELECT count(*)::integer FROM workers w
              WHERE w.account_id = a.account_id AND w.agent_id = a.id
                AND w.status IN ('claimed', 'running', 'waiting_input')) AS running_tasks
       FROM agents a
      WHERE $1::boolean OR a.account_id = $2 ORDER BY a.last_seen_at DESC LIMIT 500`,
    [isAdmin(caller), caller.id, offlineSeconds],
  );
}

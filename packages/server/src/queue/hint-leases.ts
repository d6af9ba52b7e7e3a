import type { Queryable } from '../db/index.ts';

/** An idle agent connected to this replica, as the database sees it. */
export interface AgentSlots {
  accountId: string;
  agentId: string;
  capabilities: string[];
  /** The agent's workspace filter (ids or names); empty = every workspace its account may claim in. */
  workspaces: string[];
  /** Tasks it may claim now: its max tasks minus its live workers, within its account's concurrency. */
  free: number;
}

/**
 * What each named agent could claim right now, from its `agents` row (written by its claims) and the live
 * workers of it and of its account. Agents without a row (never claimed) are left out: the caller cannot
 * target them. One statement for every idle agent of the replica.
 */
export async function agentSlots(
  db: Queryable,
  agents: Array<{ accountId: string; agentId: string }>,
): Promise<AgentSlots[]> {
  if (agents.length === 0) return [];
  const rows = await db.query<{
    account_id: string;
    id: string;
    capabilities: string[];
    workspace_ids: string[];
    free: number;
  }>(
    `WITH q AS (SELECT * FROM unnest($1::text[], $2::text[]) AS q(account_id, agent_id)),
     live AS (SELECT k.account_id, k.agent_id, count(*)::integer AS n FROM workers k
               WHERE k.status IN ('claimed', 'running', 'waiting_input')
                 AND k.account_id IN (SELECT DISTINCT account_id FROM q)
               GROUP BY k.account_id, k.agent_id),
     per_account AS (SELECT account_id, sum(n)::integer AS n FROM live GROUP BY account_id)
     SELECT g.account_id, g.id, g.capabilities, g.workspace_ids,
            LEAST(g.max_tasks - COALESCE(l.n, 0), a.max_concurrent_workers - COALESCE(pa.n, 0)) AS free
       FROM q
       JOIN agents g ON g.account_id = q.account_id AND g.id = q.agent_id
       JOIN accounts a ON a.id = g.account_id
       LEFT JOIN live l ON l.account_id = g.account_id AND l.agent_id = g.id
       LEFT JOIN per_account pa ON pa.account_id = g.account_id`,
    [agents.map((a) => a.accountId), agents.map((a) => a.agentId)],
  );
  return rows.map((r) => ({
    accountId: r.account_id,
    agentId: r.id,
    capabilities: r.capabilities,
    workspaces: r.workspace_ids,
    free: r.free,
  }));
}

/** Who a group of idle agents is: the account and what they offer (the claim's inputs). */
export interface ClaimProfile {
  accountId: string;
  capabilities: string[];
  /** Ids or names; empty = every workspace the account may claim in. */
  workspaces: string[];
}

/**
 * Takes hint leases of `leaseSeconds` for each group in turn: up to `limit` pending tasks that agents of the
 * group could claim now, by the claim's own conditions (the function `buildd_take_hint_leases` in
 * hint-leases.sql beside this file, which says how replicas racing for one task are kept apart). Answers,
 * per group (same order), the task ids this replica may hint. One round trip for a whole round.
 */
export async function takeHintLeases(
  db: Queryable,
  groups: Array<{ profile: ClaimProfile; limit: number }>,
  leaseSeconds: number,
): Promise<string[][]> {
  const won: string[][] = groups.map(() => []);
  if (groups.length === 0) return won;
  const rows = await db.query<{ o_group: number; o_task: string }>(
    'SELECT * FROM buildd_take_hint_leases($1::jsonb, $2)',
    [
      JSON.stringify(
        groups.map(({ profile, limit }) => ({
          account: profile.accountId,
          capabilities: profile.capabilities,
          workspaces: profile.workspaces,
          limit,
        })),
      ),
      leaseSeconds,
    ],
  );
  for (const r of rows) won[r.o_group]?.push(r.o_task);
  return won;
}

/** Forgets hint leases that ended a while ago (the reaper round). */
export async function pruneHintLeases(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM task_hints WHERE until < now() - interval '1 minute'`);
}

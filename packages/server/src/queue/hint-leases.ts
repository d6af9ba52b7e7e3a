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
 * Takes, for up to `limit` pending tasks that agents of `profile` could claim now (the claim's own
 * conditions: claim.sql), a hint lease of `leaseSeconds`: the task ids answered are this replica's to
 * hint. A task another replica holds a live lease on is skipped, and of two replicas racing for one task
 * only one gets it back (the insert waits for the other's and then finds its lease live). Tasks in a
 * workspace at its running limit are skipped: waking an agent for them would only get an empty claim.
 */
export async function takeHintLeases(
  db: Queryable,
  profile: ClaimProfile,
  limit: number,
  leaseSeconds: number,
): Promise<string[]> {
  const rows = await db.query<{ task_id: string }>(
    `WITH c AS (
       SELECT t.id FROM tasks t JOIN workspaces w ON w.id = t.workspace_id
        WHERE t.status = 'pending'
          AND t.workspace_id = ANY(buildd_claimable_workspaces($1, $2))
          AND buildd_task_fits_runner(t, (SELECT type FROM accounts WHERE id = $1))
          AND buildd_task_has_capabilities(t, $3)
          AND buildd_task_due(t, NULL, '{}')
          AND buildd_task_dependencies_done(t)
          AND (w.max_running_tasks IS NULL OR buildd_workspace_room(w) > 0)
          AND NOT EXISTS (SELECT 1 FROM task_hints h WHERE h.task_id = t.id AND h.until > now())
        ORDER BY t.priority DESC, t.seq
        LIMIT $4)
     INSERT INTO task_hints (task_id, until)
     SELECT id, now() + make_interval(secs => $5) FROM c
     ON CONFLICT (task_id) DO UPDATE SET until = EXCLUDED.until WHERE task_hints.until <= now()
     RETURNING task_id`,
    [
      profile.accountId,
      profile.workspaces.length > 0 ? profile.workspaces : null,
      profile.capabilities,
      limit,
      leaseSeconds,
    ],
  );
  return rows.map((r) => r.task_id);
}

/** Forgets hint leases that ended a while ago (the reaper round). */
export async function pruneHintLeases(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM task_hints WHERE until < now() - interval '1 minute'`);
}

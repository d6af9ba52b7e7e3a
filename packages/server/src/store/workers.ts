import { type Caller, isAdmin } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import type { WorkerRow } from '../db/rows.ts';
import { ApiError, notFound } from '../errors.ts';

/** A worker the caller may see: its own, or any for an admin; 404 otherwise. */
export async function findVisibleWorker(db: Queryable, caller: Caller, id: string): Promise<WorkerRow> {
  const rows = await db.query<WorkerRow>(
    'SELECT * FROM workers WHERE id = $1 AND ($2::boolean OR account_id = $3)',
    [id, isAdmin(caller), caller.id],
  );
  if (!rows[0]) throw notFound('worker', id);
  return rows[0];
}

/** Who holds a worker (its account and agent), for pushing a cancel to the right agents. */
export async function workerHolder(
  db: Queryable,
  id: string,
): Promise<{ account_id: string; agent_id: string } | undefined> {
  return (
    await db.query<{ account_id: string; agent_id: string }>(
      'SELECT account_id, agent_id FROM workers WHERE id = $1',
      [id],
    )
  )[0];
}

/** The header a current agent names itself with on every write to a worker it holds. */
export const agentIdHeader = 'x-buildd-agent-id';

/**
 * The 403 for a write by another agent of the holder's account. A write that names no agent (the
 * `x-buildd-agent-id` header current agents send) is taken on the account alone: older agents name none
 * anywhere (their workers have agent ids of their own, `legacy-<worker id>`), and neither do scripts
 * written against the documented API. The checks themselves run inside the PATCH and event statements.
 */
export const notHolder = () =>
  new ApiError(
    'forbidden',
    'This worker is held by another agent of this account; only the agent that claimed it may report on it.',
  );

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

/** Who holds a worker (its account and agent), for pushing a cancel or input to the right agents. */
export async function workerHolder(
  db: Queryable,
  id: string,
): Promise<{ account_id: string; agent_id: string; task_id: string; status: string } | undefined> {
  return (
    await db.query<{ account_id: string; agent_id: string; task_id: string; status: string }>(
      'SELECT account_id, agent_id, task_id, status FROM workers WHERE id = $1',
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

/**
 * Throws unless the writer is the worker's holder: its account (404 otherwise, as for any other account's
 * object) and, when the writer names its agent, that agent (`notHolder`). For the writes outside the PATCH
 * and event statements (a delivery receipt of messages).
 */
export async function assertHolderAgent(
  db: Queryable,
  accountId: string,
  workerId: string,
  agentId: string | undefined,
): Promise<void> {
  const row = (
    await db.query<{ agent_id: string }>('SELECT agent_id FROM workers WHERE id = $1 AND account_id = $2', [
      workerId,
      accountId,
    ])
  )[0];
  if (!row) throw notFound('worker', workerId);
  if (agentId !== undefined && agentId !== row.agent_id) throw notHolder();
}

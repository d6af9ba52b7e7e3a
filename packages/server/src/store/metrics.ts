import { liveWorkerStatuses } from '@buildd/protocol';
import type { Queryable } from '../db/index.ts';

export interface QueueFigures {
  tasksByStatus: Record<string, number>;
  liveWorkersByStatus: Record<string, number>;
  onlineAgents: number;
}

/** The queue's figures for a metrics scrape, in one statement: tasks by status, live workers, online agents. */
export async function readQueueFigures(db: Queryable, agentOfflineSeconds: number): Promise<QueueFigures> {
  const rows = await db.query<{ kind: string; label: string; n: number }>(
    `SELECT 'task' AS kind, status AS label, count(*)::integer AS n FROM tasks GROUP BY status
     UNION ALL
     SELECT 'worker', status, count(*)::integer FROM workers WHERE status = ANY($1::text[]) GROUP BY status
     UNION ALL
     SELECT 'agent', 'online', count(*)::integer FROM agents WHERE last_seen_at > now() - make_interval(secs => $2)`,
    [liveWorkerStatuses, agentOfflineSeconds],
  );
  const figures: QueueFigures = { tasksByStatus: {}, liveWorkersByStatus: {}, onlineAgents: 0 };
  for (const row of rows) {
    if (row.kind === 'task') figures.tasksByStatus[row.label] = row.n;
    else if (row.kind === 'worker') figures.liveWorkersByStatus[row.label] = row.n;
    else figures.onlineAgents = row.n;
  }
  return figures;
}

import { childLog, type Log } from '../log.ts';
import type { BuilddClient } from '../server/client.ts';
import { Outbox } from './outbox.ts';
import { Spool } from './spool.ts';

/**
 * Delivers every spool an earlier run of the agent left behind (events and final reports the server
 * never acknowledged), each in order, in the background. A spool whose worker answers 409/404 is
 * dropped. A spool without a final report belonged to a run that died with the agent: once its
 * events are delivered it is deleted, and the server's lease reaper gives the task back.
 */
export async function replaySpools(dataDir: string, client: BuilddClient, log: Log): Promise<Outbox[]> {
  const outboxes: Outbox[] = [];
  for (const workerId of await Spool.list(dataDir)) {
    const spool = await Spool.open(dataDir, workerId);
    const workerLog = childLog(log, { worker: workerId });
    workerLog('info', 'replaying outbox left by an earlier run', {
      entries: spool.pending().length,
      final: spool.finished,
    });
    const outbox = new Outbox(spool, client, workerLog, { dropWhenDelivered: true });
    outboxes.push(outbox);
    void outbox.drain();
  }
  return outboxes;
}

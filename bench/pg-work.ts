import { readFileSync } from 'node:fs';
import type { Caller } from '../packages/server/src/caller.ts';
import { openPostgres } from '../packages/server/src/db/postgres.ts';
import { claimTasks } from '../packages/server/src/queue/claim.ts';
import { updateWorker } from '../packages/server/src/queue/update-worker.ts';
import { makeAccount } from '../packages/server/test/support/api.ts';
import { createTasks, startBenchServer } from './server-lifecycle.ts';
import { readStatements, resetStatements, type StatementFigures } from './statements.ts';

/** Milliseconds a process has run on a CPU, from /proc/<pid>/schedstat (nanoseconds, unlike /proc/<pid>/stat). */
function runMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

export interface StepFigures {
  step: 'claim' | 'running' | 'completed';
  /** CPU of the one PostgreSQL backend per call, in microseconds. */
  postgresUs: number;
  /** Wall time per call as the client sees it, in microseconds. */
  wallUs: number;
}

/**
 * The work PostgreSQL does for each step of a lifecycle, without contention: the server's own claim and
 * PATCH statements (claimTasks, updateWorker) sent one after another on ONE connection to a fresh buildd
 * database, the backend's CPU read from /proc. What the 32-claimer run costs beyond this is contention
 * (lock waits, context switches) and the HTTP server.
 */
export async function benchPgWork(
  engine: 'embedded' | 'postgres',
  tasks = 1000,
): Promise<{ steps: StepFigures[]; statements?: StatementFigures[] }> {
  const withStatements = process.env.BENCH_STATEMENTS === '1' && engine === 'embedded';
  const s = await startBenchServer(engine, withStatements);
  const db = openPostgres({ connectionString: s.databaseUrl, maxConnections: 1 });
  try {
    await createTasks(s.admin, tasks, 'work');
    const made = await makeAccount(s.admin, s.url, { type: 'service', maxConcurrentWorkers: 100 });
    const caller = (await s.admin.get(`/api/accounts/${made.id}`)).body as Caller;
    const pid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]?.pid ?? 0;
    // Per step: backend CPU ms, wall ms.
    const totals: Record<StepFigures['step'], { cpu: number; wall: number }> = {
      claim: { cpu: 0, wall: 0 },
      running: { cpu: 0, wall: 0 },
      completed: { cpu: 0, wall: 0 },
    };
    const timed = async (step: keyof typeof totals, fn: () => Promise<unknown>) => {
      const cpu0 = runMs(pid);
      const t0 = performance.now();
      await fn();
      totals[step].cpu += runMs(pid) - cpu0;
      totals[step].wall += performance.now() - t0;
    };
    if (withStatements) await resetStatements(s.databaseUrl);
    for (let i = 0; i < tasks; i++) {
      let workerId = '';
      await timed('claim', async () => {
        const r = await claimTasks(db, {
          caller,
          agentId: 'work',
          authType: 'api',
          maxTasks: 1,
          capabilities: [],
          workspaces: null,
          excludeTaskIds: [],
          leaseSeconds: 60,
          retrySeconds: 5,
        });
        workerId = r.claimed[0]?.worker.id ?? '';
      });
      if (!workerId) throw new Error(`pg work: claim ${i} got nothing`);
      await timed('running', () => updateWorker(db, caller, workerId, undefined, { status: 'running' }, 60));
      await timed('completed', () =>
        updateWorker(db, caller, workerId, undefined, { status: 'completed', summary: 'ok' }, 60),
      );
    }
    const statements = withStatements ? await readStatements(s.databaseUrl, tasks) : undefined;
    const steps = (Object.keys(totals) as Array<keyof typeof totals>).map((step) => ({
      step,
      postgresUs: Math.round((totals[step].cpu * 1000) / tasks),
      wallUs: Math.round((totals[step].wall * 1000) / tasks),
    }));
    return { steps, ...(statements ? { statements } : {}) };
  } finally {
    await db.close();
    await s.stop();
  }
}

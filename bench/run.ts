// `npm run bench`: prints figures to compare between runs. Not a test: nothing here passes or fails on time.
import { agentLines, benchAgent } from './agent-overhead.ts';
import { benchEmbeddedStart, startLines } from './embedded-start.ts';
import { benchLifecycles } from './server-lifecycle.ts';

const only = process.argv[2];
const engines = (process.env.BENCH_ENGINES ?? 'postgres,embedded').split(',') as Array<
  'postgres' | 'embedded'
>;

if (!only || only === 'start') {
  console.log('# start: buildd-server on its embedded PostgreSQL (what `npm start` runs after its build)');
  for (const line of startLines(await benchEmbeddedStart(Number(process.env.BENCH_START_RUNS ?? 3)))) {
    console.log(line);
  }
}

if (!only || only === 'server') {
  console.log(
    '# server: full task lifecycles through HTTP (claim → running → completed), 32 concurrent claimers',
  );
  for (const engine of engines) {
    const f = await benchLifecycles(engine, Number(process.env.BENCH_TASKS ?? 3000));
    console.log(
      `${f.engine.padEnd(9)} ${String(f.lifecyclesPerSecond).padStart(6)} lifecycles/s   claim p50 ${f.claimP50Ms} ms   p99 ${f.claimP99Ms} ms   (${f.tasks} tasks in ${f.seconds} s)   CPU per lifecycle: server ${f.serverCpuMsPerLifecycle} ms, postgres ${f.postgresCpuMsPerLifecycle} ms`,
    );
  }
}

if (!only || only === 'agent') {
  console.log(
    '# agent: own overhead per task outside the model (1,000-file local origin, tasks in sequence, real SDK → fake Messages API, server process on its embedded PostgreSQL)',
  );
  for (const line of agentLines(await benchAgent(Number(process.env.BENCH_AGENT_TASKS ?? 10))))
    console.log(line);
}

if (!only || only === 'live') {
  console.log(
    '# live: dispatch (created → claimed by an idle agent) by push, long poll and poll; the herd of idle agents (two buildd-server processes on the system PostgreSQL)',
  );
  const { benchLive } = await import('./live.ts');
  for (const line of await benchLive()) console.log(line);
}

if (!only || only === 'connections') {
  console.log(
    '# connections: one server process on PostgreSQL with idle agents (channel + polling), 10,000 push connections, and 10 vs 1,000 SSE viewers of one task',
  );
  const { benchConnections } = await import('./live-connections.ts');
  for (const line of await benchConnections()) console.log(line);
}

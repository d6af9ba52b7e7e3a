// `npm run bench`: prints figures to compare between runs. Not a test: nothing here passes or fails on time.
import { availableParallelism } from 'node:os';
import { agentLines, benchAgent } from './agent-overhead.ts';
import { benchEmbeddedStart, startLines } from './embedded-start.ts';
import { benchServer } from './server-lifecycle.ts';
import { statementLines } from './statements.ts';

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
    '# server: full task lifecycles through HTTP (claim → running → completed), 32 concurrent claimers, against the SQL ceiling (the minimal lifecycle from a Node client, bench/sql-ceiling.ts) on the same database before and after; then event ingestion (100 workers × 20 batches of 50 events)',
  );
  const { measureHttpFloor } = await import('./http-floor.ts');
  const floor = await measureHttpFloor(Number(process.env.BENCH_TASKS ?? 3000));
  console.log(
    `http floor ${floor.lifecyclesPerSecond} lifecycles/s   CPU per lifecycle: server ${floor.serverCpuMs} ms, clients ${floor.clientCpuMs} ms   (the same three calls answered by @hono/node-server with canned answers: no auth, no validation, no database)`,
  );
  for (const engine of engines) {
    const { lifecycles: f, ingestion: e } = await benchServer(
      engine,
      Number(process.env.BENCH_TASKS ?? 3000),
    );
    const ceilings = f.ceiling.map((c) => c.lifecyclesPerSecond).join(' / ');
    console.log(
      `${f.engine.padEnd(9)} ${String(f.lifecyclesPerSecond).padStart(6)} lifecycles/s = ${Math.round(f.ratio * 100)} % of the SQL ceiling (${ceilings}/s)   claim p50 ${f.claimP50Ms} ms   p99 ${f.claimP99Ms} ms   (${f.tasks} tasks in ${f.seconds} s)   CPU per lifecycle: server ${f.serverCpuMsPerLifecycle} ms (kernel ${f.serverSysMsPerLifecycle}), postgres ${f.postgresCpuMsPerLifecycle} ms, clients ${f.clientCpuMsPerLifecycle} ms   WAL ${f.walBytesPerLifecycle} B   load ${f.load[0]} → ${f.load[1]}`,
    );
    console.log(
      `${''.padEnd(9)} ceiling claim p50 ${f.ceiling.map((c) => c.claimP50Ms).join(' / ')} ms   p99 ${f.ceiling.map((c) => c.claimP99Ms).join(' / ')} ms   CPU per lifecycle: postgres ${f.ceiling.map((c) => c.postgresCpuMs).join(' / ')} ms, client ${f.ceiling.map((c) => c.clientCpuMs).join(' / ')} ms   WAL ${f.ceiling.map((c) => c.walBytes).join(' / ')} B`,
    );
    // Both floors on the same cores: the ceiling's PostgreSQL work plus the HTTP floor's, with nothing of
    // buildd's own. What a perfect HTTP wrapper of the minimal SQL could reach here.
    const meanCeilingCpu =
      f.ceiling.reduce((sum, c) => sum + c.postgresCpuMs + c.clientCpuMs, 0) / f.ceiling.length;
    const bound = Math.round(
      (1000 * availableParallelism()) / (meanCeilingCpu + floor.serverCpuMs + floor.clientCpuMs),
    );
    console.log(
      `${''.padEnd(9)} a perfect HTTP wrapper of the ceiling would need ${(meanCeilingCpu + floor.serverCpuMs + floor.clientCpuMs).toFixed(2)} ms of CPU per lifecycle: at most ${bound}/s on ${availableParallelism()} cores (buildd: ${(f.serverCpuMsPerLifecycle + f.postgresCpuMsPerLifecycle + f.clientCpuMsPerLifecycle).toFixed(2)} ms)`,
    );
    console.log(
      `${''.padEnd(9)} ingestion ${e.eventsPerSecond} events/s stored (${e.events} in ${e.seconds} s)   append p50 ${e.appendP50Ms} ms   p99 ${e.appendP99Ms} ms   CPU per 1,000 events: server ${e.serverCpuMsPerThousandEvents} ms, postgres ${e.postgresCpuMsPerThousandEvents} ms`,
    );
    if (f.statements) for (const line of statementLines(f.statements)) console.log(line);
  }
}

if (!only || only === 'pgwork') {
  console.log(
    "# pgwork: PostgreSQL CPU per lifecycle step without contention (the server's own claim and PATCH statements, one connection, one after another)",
  );
  const { benchPgWork } = await import('./pg-work.ts');
  for (const engine of engines) {
    const { steps, statements } = await benchPgWork(engine, Number(process.env.BENCH_WORK_TASKS ?? 1000));
    const total = steps.reduce((sum, x) => sum + x.postgresUs, 0);
    console.log(
      `${engine.padEnd(9)} ${steps.map((x) => `${x.step} ${x.postgresUs} µs (wall ${x.wallUs})`).join('   ')}   = ${total} µs of PostgreSQL CPU per lifecycle`,
    );
    if (statements) for (const line of statementLines(statements)) console.log(line);
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

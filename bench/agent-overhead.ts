import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgent } from '../packages/agent/src/agent.ts';
import type { RunTask } from '../packages/agent/src/claim/worker-session.ts';
import { loadConfig } from '../packages/agent/src/config/agent-config.ts';
import { runTask } from '../packages/agent/src/run/run-task.ts';
import type { RunOutcome } from '../packages/agent/src/run/types.ts';
import { startFakeAnthropic, text, write } from '../packages/agent/test/support/fake-anthropic.ts';
import { makeOrigin } from '../packages/agent/test/support/git-fixtures.ts';
import { newApiKey } from '../packages/server/src/ids.ts';
import { apiClient } from '../packages/server/test/support/api.ts';
import { type SpawnedServer, spawnServer } from './spawn-server.ts';

const agentBin = fileURLToPath(new URL('../packages/agent/bin/buildd-agent.mjs', import.meta.url));
const agentCli = fileURLToPath(new URL('../packages/agent/src/cli.ts', import.meta.url));
// Recognisable if it ever leaked; the fake Messages API accepts anything.
const fakeOauthToken = 'sk-ant-oat01-FAKE-BENCH-never-send-anywhere-0123456789';

/** Instants (performance.now(), ms) of one task's run, recorded around the real agent. */
interface TaskTimes {
  claimAnswered?: number;
  runStart?: number;
  sdkInit?: number;
  sdkResult?: number;
  runEnd?: number;
  acked?: number;
  timings?: RunOutcome['timings'];
}

/** One task's parts, in ms. */
export interface TaskParts {
  /** Claim answered → query() called: spool, PATCH running, fetch or clone, the checkout (spare or `worktree add`). */
  prepare: number;
  /** The git part of `prepare` (runTask's prepareMs). */
  prepareGit: number;
  /** SDK iterator ended (child exited) → final PATCH answered. */
  finish: number;
  /** Parts of `finish`: commit + diff stats + push, worktree removal, final report delivered. */
  publish: number;
  removal: number;
  report: number;
  /** Excluded from the overhead: query() → init message, and result message → child exit. */
  sdkStartup: number;
  sdkShutdown: number;
}

export interface AgentFigures {
  files: number;
  /** The first task (cold cache: clone) first, then warm ones. */
  tasks: TaskParts[];
  idleRssMb: { tsx: number; bundled: number | null };
  /** 1-minute load average right after the tasks ran, and the CPU count: the figures vary with it. */
  load: { average: number; cpus: number };
}

/**
 * The agent's own cost around the model: ~10 tasks in sequence through a real in-process agent, a
 * buildd-server process (its embedded PostgreSQL), the real Claude Agent SDK against a scripted fake Messages API and
 * a 1,000-file local bare origin; then the idle RSS of the agent CLI process. Everything lives under
 * TMPDIR: `TMPDIR=/dev/shm` takes the disk out (on a journal-less ext4, creating a worktree's files
 * right after the previous task deleted as many is slow: the allocator skips recently freed inodes).
 */
export async function benchAgent(taskCount = 10, files = 1000): Promise<AgentFigures> {
  const root = await mkdtemp(join(tmpdir(), 'buildd-bench-agent-'));
  await chmod(root, 0o755); // as root, the embedded PostgreSQL runs as `postgres`, which must pass through
  const adminKey = newApiKey('user');
  let server: SpawnedServer | undefined;
  const anthropic = await startFakeAnthropic({
    // Two turns, so the finish has a change to commit and push.
    script: [write('bench.txt', 'written by the bench\n'), text('Wrote bench.txt.')],
  });
  try {
    mkdirSync(join(root, 'server'));
    server = await spawnServer({
      BUILDD_ADMIN_KEY: adminKey,
      BUILDD_DATA_DIR: join(root, 'server'),
      BUILDD_CONFIG_DIR: join(root, 'server-config'),
    });
    const origin = makeOrigin(root, { count: files });
    const tasks = await runTasks(server.url, adminKey, origin.url, anthropic.url, root, taskCount);
    const load = { average: Number(loadavg()[0]?.toFixed(1)), cpus: availableParallelism() };
    const tsx = await idleRssMb([agentBin], server.url, adminKey, root);
    const bundled = await bundleCli(root).then(
      (file) => idleRssMb([file], server!.url, adminKey, root),
      () => null,
    );
    return { files, tasks, idleRssMb: { tsx, bundled }, load };
  } finally {
    await server?.stop();
    await anthropic.close();
    await rm(root, { recursive: true, force: true });
  }
}

async function runTasks(
  serverUrl: string,
  adminKey: string,
  repoUrl: string,
  anthropicUrl: string,
  root: string,
  count: number,
): Promise<TaskParts[]> {
  const admin = apiClient(serverUrl, adminKey);
  const ws = await admin.post('/api/workspaces', { name: 'bench-agent', repoUrl, defaultBranch: 'main' });
  if (ws.status !== 201) throw new Error(`cannot create the workspace: ${JSON.stringify(ws.body)}`);
  const home = join(root, 'home');
  mkdirSync(join(home, 'tmp'), { recursive: true });
  const loaded = loadConfig(
    [
      `--server=${serverUrl}`,
      `--api-key=${adminKey}`,
      '--name=bench-agent',
      '--max-tasks=1',
      '--poll-interval=5',
    ],
    {
      HOME: home,
      PATH: process.env.PATH,
      CLAUDE_CONFIG_DIR: join(home, '.claude'),
      CLAUDE_CODE_TMPDIR: join(home, 'tmp'),
      CLAUDE_CODE_OAUTH_TOKEN: fakeOauthToken,
      ANTHROPIC_BASE_URL: anthropicUrl,
      CLAUDE_CODE_MAX_RETRIES: '0',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
  );
  if (loaded.action !== 'run') throw new Error('unexpected config action');

  const byWorker = new Map<string, TaskTimes>();
  const times = (workerId: string) => byWorker.get(workerId) ?? byWorker.set(workerId, {}).get(workerId)!;
  const timedFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const at = performance.now();
    const url = String(input);
    if (url.endsWith('/api/workers/claim') && res.ok) {
      const body = (await res.clone().json()) as { workers: { id: string }[] };
      for (const w of body.workers) times(w.id).claimAnswered = at;
    }
    const final = init?.method === 'PATCH' && String(init.body).includes('"exitCause"');
    if (final && res.ok) times(url.split('/').pop()!).acked = at;
    return res;
  };
  const timedRun: RunTask = async (worker, ctx) => {
    const t = times(worker.id);
    t.runStart = performance.now();
    const outcome = await runTask(worker, {
      ...ctx,
      reporter: {
        event(type, data) {
          if (type === 'status' && data.phase === 'sdk') t.sdkInit = performance.now();
          if (type === 'usage' && data.final) t.sdkResult = performance.now();
          ctx.reporter.event(type, data);
        },
        progress: (p) => ctx.reporter.progress(p),
      },
    });
    t.runEnd = performance.now();
    t.timings = outcome.timings;
    return outcome;
  };
  const agent = startAgent(loaded.config, { fetch: timedFetch, runTask: timedRun, log: () => {} });
  const parts: TaskParts[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const created = await admin.post('/api/tasks', {
        workspaceId: ws.body.id,
        title: `b${i}`,
        prompt: 'p',
      });
      const deadline = Date.now() + 60_000;
      const finished = () => [...byWorker.values()][i]?.acked !== undefined;
      while (!finished()) {
        if (Date.now() > deadline) throw new Error(`task ${i} did not finish within 60 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const t = [...byWorker.values()][i]!;
      const task = (await admin.get(`/api/tasks/${created.body.id}`)).body;
      if (task.status !== 'completed' || !task.workers?.[0]?.commitSha) {
        throw new Error(`task ${i} ended ${task.status}: ${task.workers?.[0]?.error ?? 'no commit'}`);
      }
      parts.push(partsOf(t));
    }
  } finally {
    await agent.stop();
  }
  return parts;
}

function partsOf(t: TaskTimes): TaskParts {
  const { claimAnswered, runStart, sdkInit, sdkResult, runEnd, acked, timings } = t;
  if (!(claimAnswered && runStart && sdkInit && sdkResult && runEnd && acked && timings)) {
    throw new Error(`incomplete timings: ${JSON.stringify(t)}`);
  }
  const queryCalled = runStart + timings.prepareMs;
  const sdkEnded = queryCalled + timings.sdkMs;
  return {
    prepare: queryCalled - claimAnswered,
    prepareGit: timings.prepareMs,
    finish: acked - sdkEnded,
    publish: timings.finishMs,
    removal: runEnd - sdkEnded - timings.finishMs,
    report: acked - runEnd,
    sdkStartup: sdkInit - queryCalled,
    sdkShutdown: sdkEnded - sdkResult,
  };
}

/** Starts the agent CLI (`node …args`) with no tasks to claim and reads its VmRSS after ~5 s. */
async function idleRssMb(args: string[], serverUrl: string, adminKey: string, root: string): Promise<number> {
  const home = await mkdtemp(join(root, 'idle-home-'));
  // A 1 s long poll, so SIGTERM does not wait for a 30 s claim in flight.
  const flags = [`--server=${serverUrl}`, `--api-key=${adminKey}`, '--poll-interval=1', '--log-level=warn'];
  const child = spawn(process.execPath, [...args, ...flags], {
    env: { PATH: process.env.PATH ?? '', HOME: home, CLAUDE_CODE_OAUTH_TOKEN: fakeOauthToken },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2_000);
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await new Promise((r) => setTimeout(r, 5_000));
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the agent (${args[0]}) exited with ${child.exitCode ?? child.signalCode}: ${stderr}`);
    }
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
    return Math.round(kb / 1024);
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The agent CLI bundled into one plain .mjs (esbuild, which tsx ships), to run without tsx's loader. */
async function bundleCli(root: string): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = join(root, 'agent-bundle.mjs');
  await build({
    entryPoints: [agentCli],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    // Some bundled CommonJS code calls require().
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  return outfile;
}

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0);
};

/** The agent section's printed lines. */
export function agentLines(f: AgentFigures): string[] {
  const [cold, ...warm] = f.tasks;
  if (!cold || warm.length === 0) return ['agent  (too few tasks to report)'];
  const part = (key: keyof TaskParts) =>
    `p50 ${pct(
      warm.map((t) => t[key]),
      50,
    )} ms  max ${pct(
      warm.map((t) => t[key]),
      100,
    )} ms  (cold ${Math.round(cold[key])} ms)`;
  const overhead = warm.map((t) => t.prepare + t.finish);
  const rss = f.idleRssMb;
  return [
    `agent  prepare  ${part('prepare')}   claim answered → query() called`,
    `agent    of it git fetch/clone + checkout     ${part('prepareGit')}`,
    `agent  finish   ${part('finish')}   SDK ended → final PATCH answered`,
    `agent    of it commit + diff stats + push  ${part('publish')}`,
    `agent    of it worktree removal            ${part('removal')}`,
    `agent    of it final report                ${part('report')}`,
    `agent  overhead p50 ${pct(overhead, 50)} ms  max ${pct(overhead, 100)} ms  (cold ${Math.round(cold.prepare + cold.finish)} ms)   target ≤ 300 ms`,
    `agent  excluded: SDK start-up (query() → init) ${part('sdkStartup')};  SDK shutdown (result → child exit) ${part('sdkShutdown')}`,
    `agent  (load average ${f.load.average} on ${f.load.cpus} CPUs while the tasks ran; data dir under ${tmpdir()})`,
    `agent  idle RSS ${rss.tsx} MB via bin/buildd-agent.mjs (tsx)${rss.bundled === null ? '' : `, ${rss.bundled} MB bundled without tsx`}   target ≤ 100 MB`,
  ];
}

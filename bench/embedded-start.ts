import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer } from './spawn-server.ts';

export interface StartFigures {
  /** Spawn → /healthz answers, on an empty HOME (initdb included), per run. */
  firstStartSeconds: number[];
  /** The same HOME started again (the cluster exists). */
  restartSeconds: number[];
  /** After ~5 s idle: the server process and every process of its PostgreSQL. */
  serverRssMb: number;
  postgresRssMb: number;
  postgresPssMb: number;
  postgresProcesses: number;
}

/** kB of a /proc/<pid>/status or smaps_rollup field. */
function procKb(path: string, field: string): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(path, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The postmaster running on `pgdata` and its children (the backends and helper processes). */
export function postgresTree(pgdata: string): number[] {
  const pids: number[] = [];
  let postmaster = 0;
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const pid = Number(entry);
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('/postgres') && args[args.indexOf('-D') + 1] === pgdata) postmaster = pid;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      parents.set(pid, Number(stat[1]));
    } catch {
      // gone meanwhile
    }
  }
  if (!postmaster) return pids;
  pids.push(postmaster);
  for (const [pid, ppid] of parents) if (ppid === postmaster) pids.push(pid);
  return pids;
}

const mb = (kb: number) => Number((kb / 1024).toFixed(1));

/** `buildd-server` with no DATABASE_URL, the way `npm start` runs it after its build step. */
export async function benchEmbeddedStart(runs = 3): Promise<StartFigures> {
  const figures: StartFigures = {
    firstStartSeconds: [],
    restartSeconds: [],
    serverRssMb: 0,
    postgresRssMb: 0,
    postgresPssMb: 0,
    postgresProcesses: 0,
  };
  for (let run = 0; run < runs; run++) {
    const home = await mkdtemp(join(tmpdir(), 'buildd-bench-home-'));
    await chmod(home, 0o755); // as root, PostgreSQL runs as `postgres`, which must pass through
    const env = { HOME: home, BUILDD_CONFIG_DIR: join(home, '.buildd'), LOG_LEVEL: 'warn' };
    try {
      let t0 = performance.now();
      let server = await spawnServer(env);
      figures.firstStartSeconds.push(Number(((performance.now() - t0) / 1000).toFixed(2)));
      await server.stop();
      t0 = performance.now();
      server = await spawnServer(env);
      figures.restartSeconds.push(Number(((performance.now() - t0) / 1000).toFixed(2)));
      if (run === runs - 1) {
        await new Promise((r) => setTimeout(r, 5000));
        const tree = postgresTree(join(home, '.buildd', 'postgres', 'pgdata'));
        figures.serverRssMb = mb(procKb(`/proc/${server.child.pid}/status`, 'VmRSS'));
        figures.postgresProcesses = tree.length;
        figures.postgresRssMb = mb(tree.reduce((n, pid) => n + procKb(`/proc/${pid}/status`, 'VmRSS'), 0));
        figures.postgresPssMb = mb(
          tree.reduce((n, pid) => n + procKb(`/proc/${pid}/smaps_rollup`, 'Pss'), 0),
        );
      }
      await server.stop();
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }
  return figures;
}

export function startLines(f: StartFigures): string[] {
  const together = Number((f.serverRssMb + f.postgresPssMb).toFixed(1));
  return [
    `first start on an empty HOME → listening: ${f.firstStartSeconds.join(' s, ')} s   (target ≤ 5 s)`,
    `restart on the same data: ${f.restartSeconds.join(' s, ')} s`,
    `idle RSS: server ${f.serverRssMb} MB + PostgreSQL ${f.postgresPssMb} MB PSS (${f.postgresRssMb} MB RSS summed over ${f.postgresProcesses} processes, shared memory counted in each) = ${together} MB   (target ≤ 250 MB)`,
  ];
}

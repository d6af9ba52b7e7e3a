/**
 * What a test file started and must stop: servers (in-process or processes) and the embedded PostgreSQL data
 * dirs they ran. The per-file set-up checks after the file's tests, stops what is left and fails the file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const running = new Map<object, { label: string; stop: () => Promise<void> }>();
const dataDirs = new Set<string>();

/** Records something running until `untrack(handle)`. */
export function track(handle: object, label: string, stop: () => Promise<void>): void {
  running.set(handle, { label, stop });
}

export function untrack(handle: object): void {
  running.delete(handle);
}

/** Records an embedded data dir, whose postmaster must be gone by the end of the file. */
export function trackDataDir(dir: string): void {
  dataDirs.add(resolve(dir));
}

/** Pids of postmasters (and their children) running with `-D` inside `dir`. Linux only. */
export function postgresProcessesIn(dir: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('-D');
      if (args[0]?.endsWith('/postgres') && at >= 0 && resolve(args[at + 1] ?? '').startsWith(resolve(dir))) {
        pids.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Stops whatever is still running, and says what it was. */
export async function collectLeaks(): Promise<string[]> {
  const leaks: string[] = [];
  for (const [handle, { label, stop }] of [...running]) {
    leaks.push(label);
    running.delete(handle);
    await stop().catch(() => {});
  }
  for (const dir of [...dataDirs]) {
    dataDirs.delete(dir);
    const pids = postgresProcessesIn(dir);
    if (pids.length === 0) continue;
    leaks.push(`a PostgreSQL on ${dir} (pids ${pids.join(', ')})`);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  return leaks;
}

import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Creates the data dir readable by its owner only (0700; a dir an older agent made 0755 is tightened):
 * it holds the spool, which holds tool output, and the worktrees.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/**
 * The agent's id, kept in `<dataDir>/agent-id` so a restarted agent is the same agent on the
 * dashboard and its spooled reports still belong to it.
 */
export async function loadAgentId(dataDir: string): Promise<string> {
  const path = join(dataDir, 'agent-id');
  try {
    const id = (await readFile(path, 'utf8')).trim();
    if (id) return id;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await ensurePrivateDir(dataDir);
  const id = `agent-${randomUUID()}`;
  await writeFile(path, `${id}\n`, { mode: 0o600 });
  return id;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dataDir>/agent.lock` for this agent. Two agents on one data dir would share an id and
 * write the same spool files, so the second one is refused with a sentence saying what to do. A lock
 * left by a process that died (kill -9) is taken over. Resolves with the function that releases it.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await ensurePrivateDir(dataDir);
  const path = join(dataDir, 'agent.lock');
  const token = `${process.pid} ${randomUUID()}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, token, { flag: 'wx', mode: 0o600 });
      return async () => {
        // Only remove our own lock (a later agent may have taken over a stale one).
        if ((await readFile(path, 'utf8').catch(() => '')) === token) await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).split(' ')[0]);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new Error(
          `another buildd-agent (pid ${pid}) is using the data dir ${dataDir}: stop it, or give this one its own --data-dir`,
        );
      }
      await rm(path, { force: true });
    }
  }
  throw new Error(`cannot lock the data dir ${dataDir}: remove ${path} if no agent is running`);
}

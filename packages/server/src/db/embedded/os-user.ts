import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedError } from './errors.ts';

const run = promisify(execFile);

/** Who PostgreSQL runs as: ourselves, or (when we are root, which PostgreSQL refuses) the `postgres` user. */
export interface PostgresUser {
  /** Set only when buildd runs as root: spawn PostgreSQL's programs with these ids. */
  uid?: number;
  gid?: number;
}

export const runningAsRoot = () => process.getuid?.() === 0;

async function ids(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * The user PostgreSQL's programs run as. PostgreSQL refuses to run as root, so as root buildd uses the
 * system user `postgres`, creating it (a system account without a home or login shell) when it is missing.
 */
export async function postgresUser(): Promise<PostgresUser> {
  if (!runningAsRoot()) return {};
  const existing = await ids('postgres');
  if (existing) return existing;
  try {
    await run('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]);
  } catch (err) {
    throw new EmbeddedError(
      `buildd runs as root, and PostgreSQL refuses to: creating the system user "postgres" for it failed ` +
        `(${(err as Error).message.trim()}). Create that user yourself, or run buildd-server as an ordinary user.`,
    );
  }
  const created = await ids('postgres');
  if (!created) throw new EmbeddedError('The system user "postgres" was created but cannot be found.');
  return created;
}

/**
 * The first folder on the way to `path` that `user` may not enter, or undefined when it can reach it.
 * Only meaningful when PostgreSQL runs as another user (as root).
 */
export async function firstBlockedFolder(path: string, user: PostgresUser): Promise<string | undefined> {
  if (user.uid === undefined) return undefined;
  let dir = resolve(path);
  const chain: string[] = [];
  for (;;) {
    chain.unshift(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const folder of chain) {
    const st = await stat(folder).catch(() => undefined);
    if (!st) return undefined; // the rest does not exist yet; buildd creates it traversable
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return folder;
  }
  return undefined;
}

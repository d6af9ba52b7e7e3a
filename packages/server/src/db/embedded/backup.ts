/**
 * Backup and restore of the embedded database. The embedded packages ship no pg_dump, so a backup is a
 * physical copy of the data dir: online, while a server runs, between pg_backup_start() and pg_backup_stop()
 * with the WAL written meanwhile kept by a temporary replication slot and copied last (what pg_basebackup
 * does); or a plain copy while no PostgreSQL runs on it. Either restores by copying it into a new data dir and
 * starting buildd-server there: PostgreSQL replays the WAL up to the end of the backup.
 */
import { chmod, chown, copyFile, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pg from 'pg';
import { EmbeddedError } from './errors.ts';
import { connectionUrl, embeddedLayout, readMarker, runningEndpoint } from './layout.ts';
import { postgresUser } from './os-user.ts';

/** Files and folders whose contents a copy leaves out (as pg_basebackup does), plus buildd's own run files. */
const skipFiles = new Set(['postmaster.pid', 'postmaster.opts', 'buildd-postgres.log', 'server.pid']);
const emptyFolders = new Set([
  'pg_wal',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
]);

export interface BackupResult {
  mode: 'online' | 'offline';
  files: number;
  bytes: number;
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return entries.length === 0;
}

/**
 * Copies `from` into `to` (both folders); files that vanish meanwhile are skipped. With a `root` (the live
 * pgdata) it leaves out what a backup does not need; without one (a restore) it copies everything.
 */
async function copyTree(
  from: string,
  to: string,
  root: string | undefined,
  count: { files: number; bytes: number },
) {
  await mkdir(to, { recursive: true, mode: 0o700 });
  const entries = await readdir(from, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (root !== undefined && (skipFiles.has(entry.name) || entry.name.startsWith('.s.PGSQL.'))) continue;
    if (entry.isDirectory()) {
      if (root !== undefined && emptyFolders.has(relative(root, source)))
        await mkdir(target, { mode: 0o700 });
      else await copyTree(source, target, root, count);
    } else if (entry.isFile()) {
      try {
        await copyFile(source, target);
        count.files++;
        count.bytes += (await lstat(target)).size;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // a table dropped meanwhile
      }
    }
  }
}

/** Writes a backup of the embedded data dir `dataDir` into `target` (which must be new or empty). */
export async function backupEmbedded(dataDir: string, target: string): Promise<BackupResult> {
  const layout = embeddedLayout(dataDir);
  const marker = await readMarker(layout);
  if (!marker?.initialised)
    throw new EmbeddedError(`${dataDir} is not a buildd data dir with a database in it.`);
  if (!(await isEmptyOrMissing(target)))
    throw new EmbeddedError(`${target} is not empty; back up into a new folder.`);
  await mkdir(target, { recursive: true, mode: 0o700 });
  const out = embeddedLayout(target);
  const count = { files: 0, bytes: 0 };
  const endpoint = await runningEndpoint(layout);
  let mode: BackupResult['mode'] = 'offline';
  if (endpoint) {
    const client = new pg.Client({ connectionString: connectionUrl(marker, endpoint, 'postgres') });
    let connected = false;
    try {
      await client.connect();
      connected = true;
    } catch {
      // a stale postmaster.pid: nothing runs, copy it as it is
    }
    if (connected) {
      mode = 'online';
      try {
        // The slot keeps every WAL segment from here on until this session ends, so a checkpoint during a
        // long copy cannot recycle what the restore needs to replay.
        await client.query(`SELECT pg_create_physical_replication_slot($1, true, true)`, [
          `buildd_backup_${process.pid}`,
        ]);
        await client.query(`SELECT pg_backup_start($1, true)`, [`buildd ${new Date().toISOString()}`]);
        await copyTree(layout.pgdata, out.pgdata, layout.pgdata, count);
        const stop = await client.query<{ labelfile: string; spcmapfile: string }>(
          'SELECT labelfile, spcmapfile FROM pg_backup_stop(false)',
        );
        await writeFile(join(out.pgdata, 'backup_label'), stop.rows[0]!.labelfile);
        if (stop.rows[0]!.spcmapfile)
          await writeFile(join(out.pgdata, 'tablespace_map'), stop.rows[0]!.spcmapfile);
        // pg_backup_stop switched to a new WAL segment: everything up to the end of the backup is on disk now.
        await rm(join(out.pgdata, 'pg_wal'), { recursive: true, force: true });
        await copyTree(join(layout.pgdata, 'pg_wal'), join(out.pgdata, 'pg_wal'), layout.pgdata, count);
      } finally {
        await client.end().catch(() => {});
      }
    }
  }
  if (mode === 'offline') await copyTree(layout.pgdata, out.pgdata, layout.pgdata, count);
  await copyFile(layout.marker, out.marker);
  await chmod(out.marker, 0o600);
  return { mode, ...count };
}

/** Copies the backup in `source` into the new data dir `dataDir`, ready for buildd-server to start on. */
export async function restoreEmbedded(
  source: string,
  dataDir: string,
): Promise<{ files: number; bytes: number }> {
  const from = embeddedLayout(source);
  const marker = await readMarker(from);
  const version = await readFile(join(from.pgdata, 'PG_VERSION'), 'utf8').catch(() => undefined);
  if (!marker || version === undefined) {
    throw new EmbeddedError(
      `${source} is not a buildd backup (no buildd-embedded.json and pgdata/PG_VERSION).`,
    );
  }
  if (!(await isEmptyOrMissing(dataDir))) {
    throw new EmbeddedError(
      `${dataDir} is not empty; restore into a new data dir (it is never overwritten).`,
    );
  }
  const to = embeddedLayout(dataDir);
  const count = { files: 0, bytes: 0 };
  await copyTree(from.pgdata, to.pgdata, undefined, count);
  await copyFile(from.marker, to.marker);
  await chmod(to.marker, 0o600);
  await chmod(to.pgdata, 0o700);
  const user = await postgresUser();
  await chmod(dataDir, user.uid === undefined ? 0o700 : 0o711);
  if (user.uid !== undefined) await chownTree(to.pgdata, user.uid, user.gid!);
  return count;
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(path, uid, gid);
    else await chown(path, uid, gid);
  }
}

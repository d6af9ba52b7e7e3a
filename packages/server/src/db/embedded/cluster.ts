import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, open, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { findBinaries, type PostgresBinaries } from './binaries.ts';
import { EmbeddedError } from './errors.ts';
import {
  connectionUrl,
  type EmbeddedLayout,
  type EmbeddedMarker,
  type Endpoint,
  embeddedLayout,
  readMarker,
  runningEndpoint,
} from './layout.ts';
import { firstBlockedFolder, type PostgresUser, postgresUser } from './os-user.ts';

export { EmbeddedError };

export interface EmbeddedOptions {
  dataDir: string;
  /** Extra `postgresql.conf` settings (tests turn fsync off for their throw-away cluster). */
  settings?: Record<string, string>;
  /** Lines PostgreSQL's tools print (initdb, pg_ctl). */
  log?: (message: string) => void;
}

export interface EmbeddedCluster {
  dataDir: string;
  version: string;
  /** A URL for `database` (default: buildd's own). */
  url(database?: string): string;
  /** Stops PostgreSQL (fast shutdown: open transactions roll back, committed ones are on disk). */
  stop(): Promise<void>;
}

// A Unix socket path may not exceed 107 bytes on Linux (103 on macOS); beyond that, 127.0.0.1 and a port.
const maxSocketPath = 100;

/**
 * Starts buildd's own PostgreSQL in `dataDir`, creating the cluster on first use. One buildd-server at a time
 * may use a data dir; a postmaster left behind by a server that was killed is stopped and started again.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedCluster> {
  const layout = embeddedLayout(opts.dataDir);
  const user = await postgresUser();
  // The data dir itself is made passable below; the folders above it are the operator's.
  const blocked = await firstBlockedFolder(dirname(opts.dataDir), user);
  if (blocked) {
    throw new EmbeddedError(
      `The embedded PostgreSQL runs as the system user "postgres" (PostgreSQL refuses root), and that user ` +
        `cannot enter ${blocked}. Choose a data dir it can reach with --data-dir (the default for root is ` +
        '/var/lib/buildd/postgres), or set DATABASE_URL.',
    );
  }
  await refuseForeignData(layout);
  const binaries = await findBinaries(user);
  // As root, the postgres user must pass through every folder on the way to pgdata (it still cannot list the
  // data dir or read the marker in it).
  await mkdir(dirname(opts.dataDir), { recursive: true, mode: user.uid === undefined ? 0o700 : 0o755 });
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  await chmod(opts.dataDir, user.uid === undefined ? 0o700 : 0o711);
  const releaseLock = await takeServerLock(layout);
  try {
    const marker = await ensureInitialised(layout, binaries, user, opts);
    await stopOrphan(layout, binaries, user, opts);
    const endpoint = await writeSettings(layout, user, opts.settings ?? {});
    await pgCtl(
      binaries,
      user,
      ['-D', layout.pgdata, '-l', layout.logFile, '-w', '-t', '120', '-s', 'start'],
      {
        failure: async () =>
          `The embedded PostgreSQL in ${layout.pgdata} did not start. Its log (${layout.logFile}) ends with:\n` +
          (await logTail(layout)),
      },
    );
    const cluster: EmbeddedCluster = {
      dataDir: opts.dataDir,
      version: binaries.version,
      url: (database) => connectionUrl(marker, endpoint, database),
      async stop() {
        await stopCluster(layout, binaries, user);
        await releaseLock();
      },
    };
    try {
      await ensureDatabase(marker, endpoint);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    if (!marker.initialised) await writeMarker(layout, { ...marker, initialised: true });
    return cluster;
  } catch (err) {
    await releaseLock();
    throw err;
  }
}

/** The PGlite data dir an earlier buildd kept in `~/.buildd/data`, when it is there. */
export async function pgliteEraDataDir(home = homedir()): Promise<string | undefined> {
  const dir = join(home, '.buildd', 'data');
  return (await stat(join(dir, 'PG_VERSION')).catch(() => undefined)) ? dir : undefined;
}

/** Refuses a data dir that buildd did not create: never reuse, move or delete someone else's data. */
async function refuseForeignData(layout: EmbeddedLayout): Promise<void> {
  const entries = await readdir(layout.dataDir).catch(() => [] as string[]);
  if (entries.length === 0 || entries.includes('buildd-embedded.json')) return;
  if (entries.includes('PG_VERSION')) {
    throw new EmbeddedError(
      `${layout.dataDir} holds a database that this buildd did not create (an earlier buildd kept its PGlite ` +
        'database in such a folder). This version cannot open it and leaves it untouched: pass another ' +
        '--data-dir, or move the folder aside to start with an empty database.',
    );
  }
  throw new EmbeddedError(
    `${layout.dataDir} is not empty and is not a buildd data dir. Pass an empty or new folder with --data-dir.`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One buildd-server per data dir: `server.pid` names it; a pid that no longer runs is stale. */
async function takeServerLock(layout: EmbeddedLayout): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(layout.lock, 'wx', 0o600);
      await file.writeFile(`${process.pid}\n`);
      await file.close();
      return async () => {
        const owner = Number((await readFile(layout.lock, 'utf8').catch(() => '')).trim());
        if (owner === process.pid) await unlink(layout.lock).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(layout.lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new EmbeddedError(
          `Another buildd-server (pid ${owner}) is using the embedded database in ${layout.dataDir}. ` +
            'Stop it first, or give this one its own --data-dir (or a shared DATABASE_URL for replicas).',
        );
      }
      await unlink(layout.lock).catch(() => {});
    }
  }
  throw new EmbeddedError(`Could not take the lock ${layout.lock}; another buildd-server may be starting.`);
}

async function writeMarker(layout: EmbeddedLayout, marker: EmbeddedMarker): Promise<void> {
  await writeFile(layout.marker, `${JSON.stringify(marker, null, 2)}\n`, { mode: 0o600 });
  await chmod(layout.marker, 0o600);
}

/** Creates the cluster (initdb) the first time; a half-made one from an interrupted first start is redone. */
async function ensureInitialised(
  layout: EmbeddedLayout,
  binaries: PostgresBinaries,
  user: PostgresUser,
  opts: EmbeddedOptions,
): Promise<EmbeddedMarker> {
  const existing = await readMarker(layout);
  const version = await readFile(join(layout.pgdata, 'PG_VERSION'), 'utf8').catch(() => undefined);
  if (existing && version !== undefined) {
    const major = Number.parseInt(version, 10);
    if (major !== binaries.major) {
      throw new EmbeddedError(
        `The embedded database in ${layout.pgdata} was made by PostgreSQL ${major}; this buildd ships ` +
          `PostgreSQL ${binaries.major}. Back it up and restore it with the buildd that made it, or use DATABASE_URL.`,
      );
    }
    return existing;
  }
  if (existing?.initialised) {
    throw new EmbeddedError(`${layout.pgdata} is missing its PostgreSQL files; restore it from a backup.`);
  }
  const marker: EmbeddedMarker = existing ?? {
    format: 1,
    superuser: 'buildd',
    password: randomBytes(24).toString('base64url'),
    database: 'buildd',
    initialised: false,
  };
  // The password is on disk before initdb runs, so an interrupted first start can begin again with it.
  await writeMarker(layout, marker);
  await rm(layout.pgdata, { recursive: true, force: true });
  await mkdir(layout.pgdata, { mode: 0o700 });
  const pwfile = join(layout.dataDir, `initdb-password-${process.pid}`);
  await writeFile(pwfile, `${marker.password}\n`, { mode: 0o600 });
  try {
    if (user.uid !== undefined) {
      await chown(layout.pgdata, user.uid, user.gid!);
      await chown(pwfile, user.uid, user.gid!);
    }
    await execAs(
      binaries.initdb,
      [
        `--pgdata=${layout.pgdata}`,
        `--username=${marker.superuser}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--no-locale',
        '--no-instructions',
      ],
      user,
      opts.log,
    );
  } finally {
    await unlink(pwfile).catch(() => {});
  }
  const conf = join(layout.pgdata, 'postgresql.conf');
  await writeFile(conf, `${await readFile(conf, 'utf8')}\ninclude_if_exists = 'buildd.conf'\n`);
  return marker;
}

/** A postmaster still running on pgdata while no buildd-server holds it is an orphan of a killed server. */
async function stopOrphan(
  layout: EmbeddedLayout,
  binaries: PostgresBinaries,
  user: PostgresUser,
  opts: EmbeddedOptions,
): Promise<void> {
  const text = await readFile(join(layout.pgdata, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(text?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => 'postgres');
  if (!cmdline.includes('postgres')) return; // a reused pid; PostgreSQL itself handles the stale file
  opts.log?.(`stopping the PostgreSQL (pid ${pid}) a previous buildd-server left running`);
  await stopCluster(layout, binaries, user);
}

/** Writes `buildd.conf` for this start and returns where clients will find the postmaster. */
async function writeSettings(
  layout: EmbeddedLayout,
  user: PostgresUser,
  extra: Record<string, string>,
): Promise<Endpoint> {
  const socketDir = layout.pgdata;
  const useSocket = join(socketDir, '.s.PGSQL.5432').length <= maxSocketPath;
  const endpoint: Endpoint = useSocket
    ? { host: socketDir, port: 5432 }
    : { host: '127.0.0.1', port: await freePort() };
  const settings: Record<string, string> = {
    // Loopback only: the socket in the (0700) data dir, or 127.0.0.1 when the path is too long for a socket.
    listen_addresses: useSocket ? "''" : "'127.0.0.1'",
    unix_socket_directories: useSocket ? quote(socketDir) : "''",
    port: String(endpoint.port),
    fsync: 'on',
    synchronous_commit: 'on',
    full_page_writes: 'on',
    shared_buffers: "'64MB'",
    max_connections: '100',
    log_min_messages: 'warning',
    log_timezone: "'UTC'",
    timezone: "'UTC'",
    ...extra,
  };
  const text = `# Written by buildd-server at every start; edit postgresql.conf to override.\n${Object.entries(
    settings,
  )
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
  await writeFile(layout.confFile, text, { mode: 0o600 });
  if (user.uid !== undefined) await chown(layout.confFile, user.uid, user.gid!);
  return endpoint;
}

const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

async function stopCluster(
  layout: EmbeddedLayout,
  binaries: PostgresBinaries,
  user: PostgresUser,
): Promise<void> {
  if (!(await stat(join(layout.pgdata, 'postmaster.pid')).catch(() => undefined))) return;
  try {
    await pgCtl(binaries, user, ['-D', layout.pgdata, '-m', 'fast', '-w', '-t', '60', '-s', 'stop']);
  } catch {
    await pgCtl(binaries, user, [
      '-D',
      layout.pgdata,
      '-m',
      'immediate',
      '-w',
      '-t',
      '30',
      '-s',
      'stop',
    ]).catch(() => {});
  }
}

async function ensureDatabase(marker: EmbeddedMarker, endpoint: Endpoint): Promise<void> {
  const client = new pg.Client({ connectionString: connectionUrl(marker, endpoint, 'postgres') });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [marker.database]);
    if (found.rowCount === 0)
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(marker.database)}`);
  } finally {
    await client.end();
  }
}

async function logTail(layout: EmbeddedLayout): Promise<string> {
  const text = await readFile(layout.logFile, 'utf8').catch(() => '(no log)');
  return text.trim().split('\n').slice(-8).join('\n');
}

/** PostgreSQL's programs get a clean environment: none of the server's secrets, locale C. */
function postgresEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };
}

function execAs(
  file: string,
  args: string[],
  user: PostgresUser,
  log?: (m: string) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: postgresEnv(), uid: user.uid, gid: user.gid, cwd: '/', maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (stdout.trim()) log?.(stdout.trim());
        if (err)
          reject(new EmbeddedError(`${file.split('/').pop()} failed: ${(stderr || err.message).trim()}`));
        else resolve(stdout);
      },
    );
  });
}

/**
 * Runs pg_ctl. For `start` it is detached into its own session, so a Ctrl-C on the terminal reaches the server
 * (which then stops PostgreSQL in order) and not PostgreSQL directly.
 */
async function pgCtl(
  binaries: PostgresBinaries,
  user: PostgresUser,
  args: string[],
  opts: { failure?: () => Promise<string> } = {},
): Promise<void> {
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(binaries.pgCtl, args, {
      env: postgresEnv(),
      uid: user.uid,
      gid: user.gid,
      cwd: '/',
      detached: true,
      stdio: 'ignore',
    });
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) {
    throw new EmbeddedError(
      opts.failure ? await opts.failure() : `pg_ctl ${args.at(-1)} failed with exit code ${code}`,
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

export { runningEndpoint };

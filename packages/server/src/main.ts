import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureAdmin, userConfigPath, writeUserConfig } from './bootstrap.ts';
import { ConfigError, loadServerConfig, serverHelp } from './config.ts';
import { backupEmbedded, restoreEmbedded } from './db/embedded/backup.ts';
import { resolveDefaultDataDir } from './db/embedded/data-dir.ts';
import { EmbeddedError, openDb, pgliteEraDataDir, SchemaTooNewError } from './db/index.ts';
import { keyPrefix } from './ids.ts';
import { startLocalAgent } from './local-agent.ts';
import { chooseLogFormat, createServerLogger } from './log.ts';
import { loadSecretKeys, SecretKeyError } from './secrets/load-secret-keys.ts';
import { startServer } from './server.ts';
import { serverVersion } from './version.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadServerConfig>;
  try {
    config = loadServerConfig(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`buildd-server: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (config.help || config.version) {
    process.stdout.write(config.help ? `${serverHelp}\n` : `${serverVersion}\n`);
    return;
  }
  const format = chooseLogFormat(config.logFormat, process.stdout.isTTY === true);
  const log = createServerLogger({ level: config.logLevel, format });
  if (!config.databaseUrl && config.dataDirIsDefault)
    config.dataDir = await resolveDefaultDataDir(config.dataDir);
  if (config.command !== 'serve') return maintenance(config.command, config.target!, config.dataDir);
  if (!config.databaseUrl && config.dataDirIsDefault) await refusePgliteEra(config.dataDir);

  // What runs is stopped in reverse order on SIGTERM/SIGINT, also when the signal comes while starting (the
  // embedded PostgreSQL must not outlive the server); a second signal exits at once.
  const closers: Array<() => Promise<void>> = [];
  let starting: Promise<unknown> = Promise.resolve();
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    await starting.catch(() => {});
    for (const close of closers.reverse()) await close().catch(() => {});
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  const step = <T>(work: Promise<T>): Promise<T> => {
    starting = work;
    return work;
  };

  let db: Awaited<ReturnType<typeof openDb>>;
  try {
    db = await step(
      openDb({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        maxConnections: config.dbPool,
        onError: (err) => log.warn({ err: err.message }, 'database connection error'),
        onPostgresLog: (message) => log.debug({ postgres: message }, 'embedded PostgreSQL'),
      }),
    );
  } catch (err) {
    if (err instanceof EmbeddedError) fail(err.message, 3);
    throw err;
  }
  closers.push(() => db.close());
  // After the database: the default key file sits beside the data dir, which opening it created.
  let secretKeys: Awaited<ReturnType<typeof loadSecretKeys>>;
  try {
    secretKeys = await loadSecretKeys({
      ...config.secretKey,
      file: config.secretKey.file ?? join(dirname(config.dataDir), 'secret.key'),
      fileIsExplicit: config.secretKey.file !== undefined,
    });
  } catch (err) {
    if (err instanceof SecretKeyError) {
      await db.close().catch(() => {});
      fail(err.message, 2);
    }
    throw err;
  }
  if (secretKeys.generated) {
    log.info(
      { file: join(dirname(config.dataDir), 'secret.key') },
      config.databaseUrl
        ? 'generated the key that encrypts stored GitHub tokens; replicas sharing DATABASE_URL need the same key (BUILDD_SECRET_KEY)'
        : 'generated the key that encrypts stored GitHub tokens; back it up apart from the database',
    );
  }

  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await step(startServer({ db, log, ...config, secretKeys: secretKeys.keys }));
  } catch (err) {
    await db.close().catch(() => {});
    if (err instanceof SchemaTooNewError) fail(err.message, 3);
    throw err;
  }
  closers.push(() => server.close());

  const admin = await step(ensureAdmin(db, config.adminKey));
  if (admin.created && admin.apiKey) {
    const saved = await writeUserConfig(server.url, admin.apiKey);
    if (config.adminKey) {
      log.info({ key: keyPrefix(admin.apiKey) }, 'admin account created with BUILDD_ADMIN_KEY');
    } else {
      process.stdout.write(
        `\nFirst start: created the admin account. Its API key (shown only this once):\n\n  ${admin.apiKey}\n\n` +
          (saved ? `Saved with the server URL to ${userConfigPath()} (mode 0600).\n\n` : ''),
      );
    }
  }

  // Said once the admin exists, so whoever waits for this line can use the key at once.
  log.info(
    {
      url: server.url,
      engine: db.engine,
      ...(db.cluster ? { dataDir: config.dataDir, postgres: db.cluster.version } : {}),
    },
    'buildd-server listening',
  );

  if (config.localAgent && !stopping) {
    const localAgent = await step(
      startLocalAgent(db, server.url, join(dirname(config.dataDir), 'local-agent'), log, config.logLevel),
    );
    if (localAgent) closers.push(() => localAgent.stop());
  }
}

function fail(message: string, code: number): never {
  process.stderr.write(`buildd-server: ${message}\n`);
  process.exit(code);
}

/**
 * An earlier buildd kept a PGlite database in ~/.buildd/data. This one cannot open it, and must not start an
 * empty database beside it as if the old tasks never existed, nor touch it.
 */
async function refusePgliteEra(dataDir: string): Promise<void> {
  const old = await pgliteEraDataDir();
  if (!old) return;
  if (existsSync(join(dataDir, 'buildd-embedded.json'))) return; // already moved on; the old dir is the user's
  fail(
    `${old} holds the database of an earlier buildd (PGlite), which this version cannot open; buildd now runs ` +
      `PostgreSQL in ${dataDir}. Nothing was changed. To start with an empty database, move the old one aside ` +
      `(mv ${old} ${old}.pglite-old) and start again; to keep its tasks, list them with the earlier buildd first ` +
      '(GET /api/tasks) and create them again here.',
    3,
  );
}

async function maintenance(command: 'backup' | 'restore', target: string, dataDir: string): Promise<void> {
  try {
    if (command === 'backup') {
      const result = await backupEmbedded(dataDir, target);
      process.stdout.write(
        `Backed up ${dataDir} to ${target} (${result.mode}: ${result.files} files, ` +
          `${(result.bytes / 1024 / 1024).toFixed(1)} MB).\nRestore with: buildd-server restore ${target} --data-dir <new folder>\n`,
      );
    } else {
      const result = await restoreEmbedded(target, dataDir);
      process.stdout.write(
        `Restored ${target} into ${dataDir} (${result.files} files). Start it with: buildd-server --data-dir ${dataDir}\n`,
      );
    }
  } catch (err) {
    if (err instanceof EmbeddedError) fail(err.message, 3);
    throw err;
  }
}

await main();

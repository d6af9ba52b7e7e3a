import { dirname, join } from 'node:path';
import { ensureAdmin, userConfigPath, writeUserConfig } from './bootstrap.ts';
import { ConfigError, loadServerConfig, serverHelp } from './config.ts';
import { openDb, SchemaTooNewError } from './db/index.ts';
import { keyPrefix } from './ids.ts';
import { startLocalAgent } from './local-agent.ts';
import { chooseLogFormat, createServerLogger } from './log.ts';
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
  const db = await openDb({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    onError: (err) => log.warn({ err: err.message }, 'database connection error'),
  });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ db, log, ...config });
  } catch (err) {
    await db.close().catch(() => {});
    if (err instanceof SchemaTooNewError) {
      process.stderr.write(`buildd-server: ${err.message}\n`);
      process.exit(3);
    }
    throw err;
  }
  log.info(
    { url: server.url, engine: db.engine, dataDir: config.databaseUrl ? undefined : config.dataDir },
    'buildd-server listening',
  );

  const admin = await ensureAdmin(db, config.adminKey);
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

  const localAgent = config.localAgent
    ? await startLocalAgent(db, server.url, join(dirname(config.dataDir), 'local-agent'), log)
    : undefined;

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    await localAgent?.stop().catch(() => {});
    await server.close();
    await db.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

await main();

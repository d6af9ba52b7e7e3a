import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { adminKeyProblem } from './ids.ts';
import { parseSecretKey } from './secrets/secret-keys.ts';

export interface ServerConfig {
  /** `serve` (the default), or a maintenance command on the embedded data dir. */
  command: 'serve' | 'backup' | 'restore';
  /** The backup folder of `backup` and `restore`. */
  target: string | undefined;
  port: number;
  host: string;
  dataDir: string;
  /** Whether dataDir is the default (then a PGlite data dir of an earlier buildd is looked for). */
  dataDirIsDefault: boolean;
  databaseUrl: string | undefined;
  /** Most connections to PostgreSQL this process keeps (BUILDD_DB_POOL). */
  dbPool: number;
  leaseSeconds: number;
  legacyLeaseSeconds: number;
  renewSeconds: number;
  reapIntervalSeconds: number;
  agentOfflineSeconds: number;
  adminKey: string | undefined;
  localAgent: boolean;
  logLevel: string;
  /** `pretty` (coloured on a terminal) or `json` lines; undefined = pretty on a terminal, JSON otherwise. */
  logFormat: 'pretty' | 'json' | undefined;
  /** The server-wide GitHub token (BUILDD_GITHUB_TOKEN): workflow dispatch, and pull requests of workspaces with no token of their own. */
  github: { apiUrl: string; token: string } | undefined;
  /** The GitHub API base URL (BUILDD_GITHUB_API_URL), without a trailing slash. */
  githubApiUrl: string;
  /** The address people reach the server at, for links back (BUILDD_PUBLIC_URL); undefined = the listening URL. */
  publicUrl: string | undefined;
  /** The key that encrypts stored secrets: BUILDD_SECRET_KEY, BUILDD_SECRET_KEY_FILE, BUILDD_SECRET_KEYS_OLD. */
  secretKey: { key: string | undefined; file: string | undefined; old: string[] };
  help: boolean;
  version: boolean;
}

export const serverHelp = `buildd-server: the buildd task queue server (HTTP API, progress streams, agent channel)

Usage: buildd-server [options]
       buildd-server backup <folder> [--data-dir <dir>]
       buildd-server restore <folder> [--data-dir <dir>]

Options (flag > environment > default):
  --port <n>             PORT               port to listen on (default 3000)
  --host <addr>          HOST               address to bind (default 127.0.0.1; use 0.0.0.0 so
                                            agents on other machines can reach it)
  --data-dir <dir>       BUILDD_DATA_DIR    the embedded PostgreSQL's directory (default
                                            ~/.buildd/postgres; as root, when the postgres
                                            user cannot enter that home: /var/lib/buildd/postgres)
  --database-url <url>   DATABASE_URL       PostgreSQL URL; when set it is used instead of the
                                            embedded database (several replicas may share it)
  --db-pool <n>          BUILDD_DB_POOL     connections to PostgreSQL this process keeps at most
                                            (default 20; each replica has its own)
  --lease-seconds <n>    BUILDD_LEASE_SECONDS   worker lease length (default 60)
  --legacy-lease-seconds <n>  BUILDD_LEGACY_LEASE_SECONDS  lease of a worker claimed by an older
                                            agent that sends no agentId (default 900)
  --renew-seconds <n>    BUILDD_RENEW_SECONDS   how often agents renew a lease (default 15)
  --reap-interval <n>    BUILDD_REAP_INTERVAL   seconds between sweeps for expired leases (default 5)
  --no-local-agent       BUILDD_LOCAL_AGENT=0   do not start the built-in local agent
  --log-level <level>    LOG_LEVEL          debug | info | warn | error (default info)
  --log-format <fmt>     BUILDD_LOG_FORMAT  pretty | json (default: pretty on a terminal, JSON lines otherwise)
  —                      BUILDD_GITHUB_TOKEN    GitHub token for workspaces with a githubRepo and no token
                                            of their own (workflow dispatch, pull requests)
  —                      BUILDD_GITHUB_API_URL  GitHub API base URL (default https://api.github.com)
  —                      BUILDD_PUBLIC_URL      the server's address as people reach it, for the link in
                                            pull requests (default: the address it listens on)
  —                      BUILDD_SECRET_KEY      key that encrypts stored GitHub tokens (64 hex digits or 32
                                            bytes base64); default: BUILDD_SECRET_KEY_FILE, else
                                            secret.key beside the data dir, generated once (mode 0600)
  —                      BUILDD_SECRET_KEYS_OLD earlier keys (comma-separated) during a key rotation
  -h, --help                                show this help
  -V, --version                             print the version

Commands:
  backup <folder>        copy the embedded database into a new folder, online while a server runs
  restore <folder>       copy a backup into a new, empty --data-dir; then start buildd-server on it

Without DATABASE_URL the server runs its own PostgreSQL (fsync on, reachable only through a socket in
the data dir or 127.0.0.1) and stops it when it stops.
On first start with an empty database an admin account is created and its API key printed once
(and saved to ~/.buildd/config.json unless that file exists). BUILDD_ADMIN_KEY (a key of that format, buildd_user_ and 43+ random characters), given on first
start, becomes that admin key instead.`;

/** Thrown for a bad flag or value; main prints the message and exits with status 2. */
export class ConfigError extends Error {}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}".`);
  }
  return n;
}

/** Server configuration from flags and environment; a pure function of its inputs. */
export function loadServerConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        'db-pool': { type: 'string' },
        'lease-seconds': { type: 'string' },
        'legacy-lease-seconds': { type: 'string' },
        'renew-seconds': { type: 'string' },
        'reap-interval': { type: 'string' },
        'no-local-agent': { type: 'boolean' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        version: { type: 'boolean', short: 'V' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}. Run buildd-server --help for the options.`);
  }
  const str = (flag: string, envName: string) => (values[flag] as string | undefined) ?? env[envName];
  const leaseSeconds = int('--lease-seconds', str('lease-seconds', 'BUILDD_LEASE_SECONDS'), 60, 2, 3600);
  const renewSeconds = int('--renew-seconds', str('renew-seconds', 'BUILDD_RENEW_SECONDS'), 15, 1, 3600);
  if (renewSeconds >= leaseSeconds) {
    throw new ConfigError(
      `--renew-seconds (${renewSeconds}) must be shorter than --lease-seconds (${leaseSeconds}), or leases expire between renewals.`,
    );
  }
  // Older agents renew only with their progress PATCHes, one per model message (see src/queue/claim.sql).
  const legacyLeaseSeconds = int(
    '--legacy-lease-seconds',
    str('legacy-lease-seconds', 'BUILDD_LEGACY_LEASE_SECONDS'),
    900,
    2,
    86_400,
  );
  const logLevel = str('log-level', 'LOG_LEVEL') ?? 'info';
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of debug, info, warn, error, silent; got "${logLevel}".`);
  }
  const logFormat = str('log-format', 'BUILDD_LOG_FORMAT') || undefined;
  if (logFormat !== undefined && logFormat !== 'pretty' && logFormat !== 'json') {
    throw new ConfigError(`--log-format must be pretty or json; got "${logFormat}".`);
  }
  const githubApiUrl = env.BUILDD_GITHUB_API_URL || 'https://api.github.com';
  if (!/^https?:\/\/[^/]/.test(githubApiUrl)) {
    throw new ConfigError(`BUILDD_GITHUB_API_URL must be an http(s) URL; got "${githubApiUrl}".`);
  }
  const publicUrl = env.BUILDD_PUBLIC_URL || undefined;
  if (publicUrl !== undefined && !/^https?:\/\/[^/]/.test(publicUrl)) {
    throw new ConfigError(`BUILDD_PUBLIC_URL must be an http(s) URL; got "${publicUrl}".`);
  }
  const secretKey = env.BUILDD_SECRET_KEY || undefined;
  if (secretKey !== undefined && !parseSecretKey(secretKey)) {
    throw new ConfigError(
      'BUILDD_SECRET_KEY must be 64 hex digits or 32 bytes in base64 (openssl rand -base64 32).',
    );
  }
  const databaseUrl = str('database-url', 'DATABASE_URL') || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must start with postgres:// or postgresql://.');
  }
  const [command = 'serve', target, ...extra] = positionals;
  if (command !== 'serve' && command !== 'backup' && command !== 'restore') {
    throw new ConfigError(
      `Unknown command "${command}". Commands: backup, restore; run buildd-server --help.`,
    );
  }
  if (command !== 'serve' && (!target || extra.length > 0)) {
    throw new ConfigError(`buildd-server ${command} takes one folder: buildd-server ${command} <folder>.`);
  }
  if (command !== 'serve' && databaseUrl) {
    throw new ConfigError(
      `buildd-server ${command} works on the embedded database; for DATABASE_URL use pg_dump and pg_restore.`,
    );
  }
  const explicitDataDir = str('data-dir', 'BUILDD_DATA_DIR') || undefined;
  const adminKey = env.BUILDD_ADMIN_KEY || undefined;
  const adminKeyIssue = adminKey === undefined ? undefined : adminKeyProblem(adminKey);
  if (adminKeyIssue) throw new ConfigError(adminKeyIssue);
  return {
    command,
    target,
    port: int('--port', str('port', 'PORT'), 3000, 0, 65535),
    host: str('host', 'HOST') || '127.0.0.1',
    dataDir: explicitDataDir ?? join(homedir(), '.buildd', 'postgres'),
    dataDirIsDefault: explicitDataDir === undefined,
    databaseUrl,
    dbPool: int('--db-pool', str('db-pool', 'BUILDD_DB_POOL'), 20, 2, 1000),
    leaseSeconds,
    legacyLeaseSeconds,
    renewSeconds,
    reapIntervalSeconds: int('--reap-interval', str('reap-interval', 'BUILDD_REAP_INTERVAL'), 5, 1, 3600),
    agentOfflineSeconds: Math.max(60, leaseSeconds * 2),
    adminKey,
    localAgent: !values['no-local-agent'] && env.BUILDD_LOCAL_AGENT !== '0',
    logLevel,
    logFormat,
    github: env.BUILDD_GITHUB_TOKEN
      ? { apiUrl: githubApiUrl.replace(/\/+$/, ''), token: env.BUILDD_GITHUB_TOKEN }
      : undefined,
    githubApiUrl: githubApiUrl.replace(/\/+$/, ''),
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    secretKey: {
      key: secretKey,
      file: env.BUILDD_SECRET_KEY_FILE || undefined,
      old: (env.BUILDD_SECRET_KEYS_OLD ?? '')
        .split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    },
    help: values.help === true,
    version: values.version === true,
  };
}

import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AuthType } from '@buildd/protocol';
import type { LogFormat, LogLevel } from '../log.ts';
import { type ClaudeAuth, ClaudeAuthError, detectClaudeAuth } from './claude-auth.ts';
import { ConfigError, type ConfigFile, type Env } from './file.ts';
import { argumentProblem, list, number, oneOf, type Picked, text, url } from './values.ts';

export { ConfigError, type ConfigFile, configFilePath, readConfigFile } from './file.ts';

/** Everything the agent runs with, validated. Durations are in milliseconds. */
export interface AgentConfig {
  server: string;
  apiKey: string;
  /** Workspace ids or names to claim from; empty = every workspace the account may claim in. */
  workspaces: string[];
  maxTasks: number;
  pollIntervalMs: number;
  /**
   * How often the agent pings the server over its push channel. A ping not answered by the next one means
   * a dead peer (a half-open connection sends no close): the agent drops the socket and reconnects.
   */
  channelPingMs: number;
  name: string;
  dataDir: string;
  /** Extra capabilities from `--capability`, added to the detected ones. */
  capabilities: string[];
  model: string;
  taskTimeoutMs: number;
  /** How long a run waits for an answer before it is parked (worker ended, slot freed, conversation kept). */
  parkAfterMs: number;
  gracePeriodMs: number;
  logLevel: LogLevel;
  /** Unset: pretty on a terminal, JSON lines otherwise. */
  logFormat?: LogFormat | undefined;
  /** Port of the health endpoint on 127.0.0.1 (`GET /health`; 0 picks a free one); unset: none. */
  healthPort?: number | undefined;
  claude: ClaudeAuth;
  /** Run every task's tools in the SDK's sandbox; false only when started with `--no-sandbox`. */
  sandbox: boolean;
  /**
   * Secret variables with their values: the credentials the agent knows (both Claude ones, the buildd
   * keys) and those BUILDD_SECRET_ENV names. Redacted everywhere, hidden from tasks.
   */
  secretEnv: Record<string, string>;
}

/** What the command line asks for. */
export type ConfigResult =
  | { action: 'help' }
  | { action: 'version' }
  | { action: 'run'; config: AgentConfig };

/** What an embedder passes to `startAgent`: server and key, and whatever else it wants to set. */
export type AgentOptions = Partial<AgentConfig> & Pick<AgentConfig, 'server' | 'apiKey'>;

/** The defaults, in one place. */
export const defaults = {
  server: 'http://localhost:3000',
  maxTasks: 3,
  pollIntervalSeconds: 10,
  channelPingSeconds: 30,
  model: 'claude-sonnet-4-5',
  taskTimeoutMinutes: 60,
  // Ten minutes: see README (a live run for a quick answer; after that a slot is worth more than a warm session).
  parkAfterSeconds: 600,
  gracePeriodSeconds: 30,
  logLevel: 'info' as LogLevel,
} as const;

const options = {
  server: { type: 'string' },
  'api-key': { type: 'string' },
  workspace: { type: 'string', multiple: true },
  'max-tasks': { type: 'string' },
  'poll-interval': { type: 'string' },
  'channel-ping': { type: 'string' },
  name: { type: 'string' },
  'data-dir': { type: 'string' },
  capability: { type: 'string', multiple: true },
  model: { type: 'string' },
  'task-timeout': { type: 'string' },
  'park-after': { type: 'string' },
  'grace-period': { type: 'string' },
  auth: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'health-port': { type: 'string' },
  'no-sandbox': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/**
 * Builds the agent's configuration from the command line, the environment and the config file.
 * Pure: it reads nothing else (the caller reads the file). Precedence: flags > env > file > defaults.
 * Throws `ConfigError` with a sentence that says what to do.
 */
export function loadConfig(
  argv: readonly string[],
  env: Env = process.env,
  configFile?: ConfigFile,
): ConfigResult {
  let flags: Flags;
  try {
    flags = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new ConfigError(argumentProblem(error));
  }
  if (flags.help) return { action: 'help' };
  if (flags.version) return { action: 'version' };
  return { action: 'run', config: resolveConfig({ flags, env, configFile }) };
}

/**
 * Completes `options` for an in-process agent (the server's `npm start`): what is not given comes
 * from the environment and the defaults exactly as for the CLI, the Claude credential included.
 * Given values win over everything; pure like `loadConfig`.
 */
export function configWithDefaults(options: AgentOptions, env: Env = process.env): AgentConfig {
  return resolveConfig({ flags: {}, env, given: options });
}

type Flags = Partial<Record<keyof typeof options, string | string[] | boolean>>;

/** What a configuration is made from, strongest first: given values, flags, env, the file, defaults. */
interface ConfigInputs {
  flags: Flags;
  env: Env;
  configFile?: ConfigFile | undefined;
  given?: Partial<AgentConfig> | undefined;
}

function resolveConfig({ flags, env, configFile, given = {} }: ConfigInputs): AgentConfig {
  const pick = (flag: keyof typeof options, envName: string, fileValue?: string): Picked | undefined => {
    const fromFlag = flags[flag];
    if (typeof fromFlag === 'string') return { value: fromFlag, from: `--${flag}` };
    if (env[envName] !== undefined && env[envName] !== '')
      return { value: env[envName] as string, from: envName };
    if (fileValue !== undefined) return { value: fileValue, from: `"${flag}" in ~/.buildd/config.json` };
    return undefined;
  };
  const many = (flag: 'workspace' | 'capability') => {
    const value = flags[flag];
    return Array.isArray(value) ? value : undefined;
  };

  const apiKey = given.apiKey ?? pick('api-key', 'BUILDD_API_KEY', configFile?.apiKey)?.value.trim();
  if (!apiKey) {
    throw new ConfigError(
      'BUILDD_API_KEY is not set: pass --api-key, set BUILDD_API_KEY, or put "apiKey" in ~/.buildd/config.json (the server\'s first start writes it)',
    );
  }
  const home = env.HOME || homedir();
  const config: Omit<AgentConfig, 'claude' | 'sandbox' | 'secretEnv'> = {
    server:
      given.server ??
      url(pick('server', 'BUILDD_SERVER', configFile?.server) ?? { value: defaults.server, from: '' }),
    apiKey,
    workspaces: given.workspaces ?? list(many('workspace'), env, '--workspace', 'BUILDD_WORKSPACE'),
    maxTasks:
      given.maxTasks ??
      number(pick('max-tasks', 'BUILDD_MAX_TASKS'), defaults.maxTasks, { min: 1, max: 100, int: true }),
    pollIntervalMs:
      given.pollIntervalMs ??
      number(pick('poll-interval', 'BUILDD_POLL_INTERVAL'), defaults.pollIntervalSeconds, {
        min: 0.05,
        max: 3600,
      }) * 1000,
    channelPingMs:
      given.channelPingMs ??
      number(pick('channel-ping', 'BUILDD_CHANNEL_PING'), defaults.channelPingSeconds, {
        min: 0.1,
        max: 3600,
      }) * 1000,
    name: given.name ?? text(pick('name', 'BUILDD_AGENT_NAME'), hostname(), 200),
    dataDir:
      given.dataDir ??
      resolve(
        text(pick('data-dir', 'BUILDD_AGENT_DATA_DIR'), join(home, '.buildd', 'agent'), 4096).replace(
          /^~(?=$|\/)/,
          home,
        ),
      ),
    capabilities: given.capabilities ?? list(many('capability'), env, '--capability', 'BUILDD_CAPABILITIES'),
    model: given.model ?? text(pick('model', 'BUILDD_MODEL'), defaults.model, 200),
    taskTimeoutMs:
      given.taskTimeoutMs ??
      number(pick('task-timeout', 'BUILDD_TASK_TIMEOUT'), defaults.taskTimeoutMinutes, {
        min: 0.01,
        max: 10_080,
      }) * 60_000,
    parkAfterMs:
      given.parkAfterMs ??
      number(pick('park-after', 'BUILDD_PARK_AFTER'), defaults.parkAfterSeconds, {
        min: 0.1,
        max: 7 * 86_400,
      }) * 1000,
    gracePeriodMs:
      given.gracePeriodMs ??
      number(pick('grace-period', 'BUILDD_GRACE_PERIOD'), defaults.gracePeriodSeconds, {
        min: 0,
        max: 3600,
      }) * 1000,
    logLevel:
      given.logLevel ??
      oneOf(pick('log-level', 'BUILDD_LOG_LEVEL') ?? { value: defaults.logLevel, from: '' }, logLevels),
  };
  const logFormat = pick('log-format', 'BUILDD_LOG_FORMAT');
  const healthPort = pick('health-port', 'BUILDD_HEALTH_PORT');
  const optional = {
    ...(given.logFormat || logFormat
      ? { logFormat: given.logFormat ?? oneOf(logFormat as Picked, ['json', 'pretty'] as const) }
      : {}),
    ...(given.healthPort !== undefined || healthPort
      ? { healthPort: given.healthPort ?? number(healthPort, 0, { min: 0, max: 65_535, int: true }) }
      : {}),
  };
  const sandbox = given.sandbox ?? flags['no-sandbox'] !== true;
  const secretEnv = given.secretEnv ?? secretVariables(env);
  // Last, so a wrong flag is reported before a missing credential.
  const authChoice = pick('auth', 'BUILDD_CLAUDE_AUTH');
  const auth = authChoice && oneOf(authChoice, AuthType.options);
  return { ...config, ...optional, sandbox, secretEnv, claude: given.claude ?? claudeAuth(env, auth) };
}

/** Variables that always hold secrets when they are set. */
const knownSecretVariables = [
  'ANTHROPIC_API_KEY',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'BUILDD_API_KEY',
  'BUILDD_ADMIN_KEY',
];

/** The known secret variables plus `BUILDD_SECRET_ENV=NAME1,NAME2` (a name that is not set is skipped). */
function secretVariables(env: Env): Record<string, string> {
  const names = [...knownSecretVariables, ...list(undefined, env, '', 'BUILDD_SECRET_ENV')];
  const secrets: Record<string, string> = {};
  for (const name of names) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new ConfigError(`BUILDD_SECRET_ENV names variables, like NPM_TOKEN,PYPI_TOKEN; got '${name}'`);
    }
    const value = env[name];
    if (value) secrets[name] = value;
  }
  return secrets;
}

const logLevels = ['debug', 'info', 'warn', 'error'] as const;

function claudeAuth(env: Env, auth: AuthType | undefined): ClaudeAuth {
  try {
    return detectClaudeAuth(env, auth);
  } catch (error) {
    if (error instanceof ClaudeAuthError) throw new ConfigError(error.message);
    throw error;
  }
}

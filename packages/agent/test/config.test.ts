import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type AgentConfig,
  ConfigError,
  configWithDefaults,
  loadConfig,
  readConfigFile,
} from '../src/config/agent-config.ts';

const baseEnv = { HOME: '/home/tester', CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-fake-oauth-token-for-tests' };

function config(
  argv: string[],
  env: Record<string, string> = {},
  file?: { server?: string; apiKey?: string },
) {
  const result = loadConfig(argv, { ...baseEnv, ...env }, file);
  if (result.action !== 'run') throw new Error(`expected run, got ${result.action}`);
  return result.config;
}

function problem(argv: string[], env: Record<string, string> = {}): string {
  try {
    loadConfig(argv, { ...baseEnv, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('uses the defaults when only the API key is given', () => {
    const c: AgentConfig = config(['--api-key=buildd_user_k']);
    expect(c).toMatchObject({
      server: 'http://localhost:3000',
      apiKey: 'buildd_user_k',
      workspaces: [],
      maxTasks: 3,
      pollIntervalMs: 10_000,
      channelPingMs: 30_000,
      name: hostname(),
      dataDir: '/home/tester/.buildd/agent',
      capabilities: [],
      model: 'claude-sonnet-4-5',
      taskTimeoutMs: 60 * 60_000,
      parkAfterMs: 600_000,
      gracePeriodMs: 30_000,
      logLevel: 'info',
    });
    expect(c.claude.authType).toBe('oauth');
  });

  it('takes flags over env over the config file over defaults', () => {
    const file = { server: 'http://file:1', apiKey: 'buildd_user_file' };
    expect(config([], {}, file)).toMatchObject({ server: 'http://file:1', apiKey: 'buildd_user_file' });
    const env = { BUILDD_SERVER: 'http://env:2', BUILDD_API_KEY: 'buildd_user_env' };
    expect(config([], env, file)).toMatchObject({ server: 'http://env:2', apiKey: 'buildd_user_env' });
    expect(config(['--server=http://flag:3/', '--api-key', 'buildd_user_flag'], env, file)).toMatchObject({
      server: 'http://flag:3',
      apiKey: 'buildd_user_flag',
    });
    expect(
      config(['--poll-interval=2'], { BUILDD_API_KEY: 'k', BUILDD_POLL_INTERVAL: '5' }).pollIntervalMs,
    ).toBe(2000);
    expect(config([], { BUILDD_API_KEY: 'k', BUILDD_POLL_INTERVAL: '5' }).pollIntervalMs).toBe(5000);
    expect(config([], { BUILDD_API_KEY: 'k', BUILDD_CHANNEL_PING: '0.5' }).channelPingMs).toBe(500);
    expect(config([], { BUILDD_API_KEY: 'k', BUILDD_MODEL: 'claude-opus-4-1' }).model).toBe(
      'claude-opus-4-1',
    );
    expect(config([], { BUILDD_API_KEY: 'k', BUILDD_AGENT_DATA_DIR: '/srv/agent' }).dataDir).toBe(
      '/srv/agent',
    );
  });

  it('reads every flag', () => {
    const c = config([
      '--api-key=k',
      '--workspace=ws-1,alpha',
      '--workspace',
      'beta',
      '--max-tasks=7',
      '--poll-interval=0.5',
      '--channel-ping=2',
      '--name=box',
      '--data-dir=~/agent-data',
      '--capability=gpu',
      '--capability=rust,go',
      '--model=m',
      '--task-timeout=2',
      '--park-after=90',
      '--grace-period=0',
      '--log-level=debug',
    ]);
    expect(c).toMatchObject({
      workspaces: ['ws-1', 'alpha', 'beta'],
      maxTasks: 7,
      pollIntervalMs: 500,
      channelPingMs: 2000,
      name: 'box',
      dataDir: '/home/tester/agent-data',
      capabilities: ['gpu', 'rust', 'go'],
      model: 'm',
      taskTimeoutMs: 120_000,
      parkAfterMs: 90_000,
      gracePeriodMs: 0,
      logLevel: 'debug',
    });
  });

  it('answers --help and --version without needing a key', () => {
    expect(loadConfig(['--help'], {})).toEqual({ action: 'help' });
    expect(loadConfig(['-h'], {})).toEqual({ action: 'help' });
    expect(loadConfig(['--version'], {})).toEqual({ action: 'version' });
  });

  it('says how to provide a missing API key', () => {
    expect(problem([])).toBe(
      'BUILDD_API_KEY is not set: pass --api-key, set BUILDD_API_KEY, or put "apiKey" in ~/.buildd/config.json (the server\'s first start writes it)',
    );
    expect(problem(['--api-key= '])).toMatch(/BUILDD_API_KEY is not set/);
  });

  it.each([
    [
      ['--server=localhost:3000'],
      "--server must be an http(s) URL like http://localhost:3000, got 'localhost:3000'",
    ],
    [['--server=ftp://x'], "--server must be an http(s) URL like http://localhost:3000, got 'ftp://x'"],
    [['--max-tasks=0'], "--max-tasks must be a whole number from 1 to 100, got '0'"],
    [['--max-tasks=2.5'], "--max-tasks must be a whole number from 1 to 100, got '2.5'"],
    [['--max-tasks=many'], "--max-tasks must be a whole number from 1 to 100, got 'many'"],
    [['--max-tasks=101'], "--max-tasks must be a whole number from 1 to 100, got '101'"],
    [['--poll-interval=0'], "--poll-interval must be a number from 0.05 to 3600, got '0'"],
    [['--poll-interval=-1'], "--poll-interval must be a number from 0.05 to 3600, got '-1'"],
    [['--task-timeout=0'], "--task-timeout must be a number from 0.01 to 10080, got '0'"],
    [['--park-after=10m'], "--park-after must be a number from 0.1 to 604800, got '10m'"],
    [['--grace-period=1h'], "--grace-period must be a number from 0 to 3600, got '1h'"],
    [['--name='], '--name must not be empty'],
    [[`--name=${'x'.repeat(201)}`], '--name is too long (at most 200 characters)'],
    [['--model= '], '--model must not be empty'],
    [['--data-dir='], '--data-dir must not be empty'],
    [['--workspace=ws-1,'], '--workspace has an empty value: give a name, or leave the option out'],
    [['--capability='], '--capability has an empty value: give a name, or leave the option out'],
    [
      [`--capability=${'c'.repeat(101)}`],
      `--capability value '${'c'.repeat(101)}' is too long (at most 100 characters)`,
    ],
    [['--auth=token'], "--auth must be one of oauth, api, got 'token'"],
    [['--log-level=loud'], "--log-level must be one of debug, info, warn, error, got 'loud'"],
    [['--bogus'], 'unknown option --bogus: see buildd-agent --help'],
    [['ws-1'], "unexpected argument 'ws-1': options take the form --name=value (see buildd-agent --help)"],
  ])('rejects %j with a clear message', (argv, message) => {
    expect(problem(['--api-key=k', ...argv])).toBe(message);
  });

  it('names the environment variable a bad value came from', () => {
    expect(problem([], { BUILDD_API_KEY: 'k', BUILDD_MAX_TASKS: 'x' })).toBe(
      "BUILDD_MAX_TASKS must be a whole number from 1 to 100, got 'x'",
    );
    expect(problem([], { BUILDD_API_KEY: 'k', BUILDD_CLAUDE_AUTH: 'both' })).toBe(
      "BUILDD_CLAUDE_AUTH must be one of oauth, api, got 'both'",
    );
    expect(problem([], { BUILDD_API_KEY: 'k', BUILDD_WORKSPACE: ',' })).toBe(
      'BUILDD_WORKSPACE has an empty value: give a name, or leave the option out',
    );
  });

  it('names the config file when its server is wrong', () => {
    expect(() => loadConfig([], baseEnv, { server: 'nope', apiKey: 'k' })).toThrow(
      `"server" in ~/.buildd/config.json must be an http(s) URL like http://localhost:3000, got 'nope'`,
    );
  });

  it('reports a bad flag before a missing Claude credential', () => {
    expect(() => loadConfig(['--api-key=k', '--max-tasks=0'], { HOME: '/h' })).toThrow(/--max-tasks/);
    expect(() => loadConfig(['--api-key=k'], { HOME: '/h' })).toThrow(
      /CLAUDE_CODE_OAUTH_TOKEN.*ANTHROPIC_API_KEY/,
    );
  });
});

describe('readConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'buildd-config-'));

  it('reads server and apiKey, and treats a missing file as none', () => {
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify({ server: 'http://s:1', apiKey: 'buildd_user_x', other: 1 }));
    expect(readConfigFile(path)).toEqual({ server: 'http://s:1', apiKey: 'buildd_user_x' });
    expect(readConfigFile(join(dir, 'missing.json'))).toBeUndefined();
  });

  it('says which file is broken', () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ server: ');
    expect(() => readConfigFile(path)).toThrow(`${path} is not valid JSON`);
  });
});

describe('configWithDefaults', () => {
  it('takes given values as they are, and the rest from the environment and the defaults', () => {
    const env = { ...baseEnv, BUILDD_MAX_TASKS: '7', BUILDD_MODEL: 'claude-haiku-4-5' };
    // A value that looks like a flag must not be parsed as one (it was, when options became argv).
    const config = configWithDefaults({ server: 'http://s:1', apiKey: '--not-a-flag', maxTasks: 1 }, env);
    expect(config).toMatchObject({ server: 'http://s:1', apiKey: '--not-a-flag', maxTasks: 1 });
    expect(config.model).toBe('claude-haiku-4-5');
    expect(config.dataDir).toBe('/home/tester/.buildd/agent');
    expect(config.claude.authType).toBe('oauth');
  });
});

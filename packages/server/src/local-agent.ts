import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Db } from './db/index.ts';
import { keyPrefix } from './ids.ts';
import { issueLocalAgentKey } from './store/local-agent.ts';

/** The agent's command in this repository; elsewhere `buildd-agent` on PATH. */
const repoAgentBin = fileURLToPath(new URL('../../agent/bin/buildd-agent.mjs', import.meta.url));

/**
 * What the local agent's process may see of the server's environment: the Claude credential and the
 * settings of the Claude Code it runs, nothing else. Above all no BUILDD_ADMIN_KEY, DATABASE_URL or other
 * server configuration: a task's commands can read their agent's environment.
 */
export function localAgentEnv(env: NodeJS.ProcessEnv, home: string, apiKey: string): Record<string, string> {
  const out: Record<string, string> = {
    PATH: env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    BUILDD_API_KEY: apiKey,
  };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (
      name === 'CLAUDE_CODE_OAUTH_TOKEN' ||
      name === 'ANTHROPIC_API_KEY' ||
      name === 'ANTHROPIC_BASE_URL' ||
      name.startsWith('CLAUDE_CODE_')
    )
      out[name] = value;
  }
  return out;
}

/**
 * The newcomer's first run: when Claude credentials are in the environment, `npm start` also runs one
 * buildd-agent as a child process, under a member account of its own (never the admin's key), with its own
 * HOME and data dir in `baseDir` and a scrubbed environment (`localAgentEnv`). Its log lines are relayed
 * with a `local agent:` prefix; `stop()` ends it with SIGTERM, as the server's own shutdown does. Without
 * credentials it says once how to add them and serves anyway.
 */
export async function startLocalAgent(
  db: Db,
  serverUrl: string,
  baseDir: string,
  log: Logger,
  logLevel = 'info',
): Promise<{ stop(): Promise<void>; pid: number | undefined } | undefined> {
  if (!process.env.CLAUDE_CODE_OAUTH_TOKEN && !process.env.ANTHROPIC_API_KEY) {
    log.info(
      'no Claude credentials in the environment, so no local agent runs: set CLAUDE_CODE_OAUTH_TOKEN ' +
        '(seat-based) or ANTHROPIC_API_KEY (pay-per-token) and restart, or start buildd-agent elsewhere',
    );
    return undefined;
  }
  const apiKey = await issueLocalAgentKey(db);
  const home = join(baseDir, 'home');
  const dataDir = join(baseDir, 'data');
  await mkdir(home, { recursive: true, mode: 0o700 });
  await chmod(baseDir, 0o700);
  await chmod(home, 0o700);
  const level = ['debug', 'info', 'warn', 'error'].includes(logLevel) ? logLevel : 'info';
  const args = ['--server', serverUrl, '--max-tasks', '1', '--name', 'local', '--data-dir', dataDir];
  const [command, argv] = existsSync(repoAgentBin)
    ? [process.execPath, [repoAgentBin, ...args, '--log-level', level]]
    : ['buildd-agent', [...args, '--log-level', level]];
  let stopping = false;
  const child = spawn(command, argv, {
    cwd: home,
    env: localAgentEnv(process.env, home, apiKey),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      if (!stopping)
        log.error({ code, signal }, 'local agent: the process stopped; restart the server to run it again');
      resolve(code);
    });
    child.once('error', (err) => {
      log.error({ err: err.message }, 'local agent: could not start buildd-agent');
      resolve(null);
    });
  });
  relay(child, log);
  log.info(
    { pid: child.pid, key: keyPrefix(apiKey), dataDir },
    'a local agent runs tasks in a child process (one at a time)',
  );
  return {
    pid: child.pid,
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      // The agent lets a running task finish within its grace period (30 s) and then reports it.
      const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

const levels = new Map([
  [10, 'trace'],
  [20, 'debug'],
  [30, 'info'],
  [40, 'warn'],
  [50, 'error'],
  [60, 'fatal'],
]);

/** Each line the agent logs, again in the server's log with a `local agent:` prefix and its level. */
function relay(child: ChildProcess, log: Logger): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      if (!line.trim()) return;
      let entry: Record<string, unknown> | undefined;
      try {
        const parsed: unknown = JSON.parse(line);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
          entry = parsed as Record<string, unknown>;
      } catch {
        // a plain line
      }
      if (!entry) {
        log.info(`local agent: ${line}`);
        return;
      }
      const { level, msg, time: _time, pid: _pid, hostname: _host, ...fields } = entry;
      const name = (typeof level === 'number' ? levels.get(level) : String(level)) ?? 'info';
      const method = (['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(name) ? name : 'info') as
        | 'info'
        | 'warn';
      log[method]({ localAgent: fields }, `local agent: ${typeof msg === 'string' ? msg : ''}`);
    });
  }
}

/**
 * A real `buildd-agent` CLI process for fault tests: its own temporary HOME (so no real Claude login
 * or ~/.buildd config of this machine is ever seen), the fake Messages API as Claude's base URL, and
 * its log captured. Every process of a test agent — the agent, the Claude Code child it spawns and
 * the tools that child runs — carries that HOME, which is how `killAgentTree` finds the orphans a
 * `kill -9` of the agent leaves behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentConfig, loadConfig } from '../../../src/config/agent-config.ts';
import { fakeApiKey, fakeOauthToken } from '../../support/agent-harness.ts';

const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'buildd-agent.mjs');

/** Where an agent keeps its state: a temp HOME with the agent's data dir inside. */
export interface AgentHome {
  home: string;
  dataDir: string;
}

const homes = new Set<string>();

/** A fresh temporary HOME for one agent (removed by `removeAgentHomes`). */
export function agentHome(prefix = 'buildd-fault-agent-'): AgentHome {
  const home = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(home, 'tmp'));
  homes.add(home);
  return { home, dataDir: join(home, '.buildd', 'agent') };
}

/** Removes every agent HOME made so far; call once no agent uses them any more. */
export function removeAgentHomes(): void {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
  homes.clear();
}

/**
 * The environment of an agent (and, through its allowlist, of Claude Code): temp HOME and Claude
 * config dir, the fake as base URL, no retries, no side traffic, and exactly one fake credential.
 */
export function agentEnv(at: AgentHome, fakeUrl: string, auth: 'oauth' | 'api'): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: at.home,
    CLAUDE_CONFIG_DIR: join(at.home, '.claude'),
    CLAUDE_CODE_TMPDIR: join(at.home, 'tmp'),
    ANTHROPIC_BASE_URL: fakeUrl,
    CLAUDE_CODE_MAX_RETRIES: '0',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    ...(auth === 'oauth' ? { CLAUDE_CODE_OAUTH_TOKEN: fakeOauthToken } : { ANTHROPIC_API_KEY: fakeApiKey }),
  };
}

/** The config of an in-process agent (`startAgent`) living in `at`, with the CLI's `flags`. */
export function agentConfig(
  at: AgentHome,
  opts: { server: string; apiKey: string; fakeUrl: string; auth?: 'oauth' | 'api'; flags?: string[] },
): AgentConfig {
  const auth = opts.auth ?? 'oauth';
  const result = loadConfig(
    [
      `--server=${opts.server}`,
      `--api-key=${opts.apiKey}`,
      `--data-dir=${at.dataDir}`,
      `--auth=${auth}`,
      '--name=fault-agent',
      '--max-tasks=1',
      '--poll-interval=1',
      '--grace-period=1',
      ...(opts.flags ?? []),
    ],
    agentEnv(at, opts.fakeUrl, auth),
  );
  if (result.action !== 'run') throw new Error('unexpected config action');
  return result.config;
}

/** A running agent process. */
export interface AgentProcess {
  child: ChildProcess;
  at: AgentHome;
  /** Everything it wrote to stderr (its log) so far. */
  log(): string;
  exited: Promise<void>;
  /** Whether it is still running. */
  alive(): boolean;
}

const started = new Set<AgentProcess>();

/** Starts `buildd-agent` against `server` with `apiKey`; `at` may be reused to restart an agent. */
export function spawnAgent(opts: {
  server: string;
  apiKey: string;
  fakeUrl: string;
  at?: AgentHome;
  auth?: 'oauth' | 'api';
  name?: string;
  args?: string[];
  /** Runs the agent inside this network namespace (`ip netns exec`, which execs: the child is the agent). */
  netns?: string;
}): AgentProcess {
  const at = opts.at ?? agentHome();
  const [command, ...prefix] = opts.netns
    ? ['ip', 'netns', 'exec', opts.netns, process.execPath]
    : [process.execPath];
  const child = spawn(
    command as string,
    [
      ...prefix,
      bin,
      `--server=${opts.server}`,
      `--api-key=${opts.apiKey}`,
      `--name=${opts.name ?? 'fault-agent'}`,
      '--max-tasks=1',
      '--poll-interval=1',
      '--grace-period=1',
      '--log-level=debug',
      ...(opts.args ?? []),
    ],
    { env: agentEnv(at, opts.fakeUrl, opts.auth ?? 'oauth'), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    text += chunk;
    if (process.env.BUILDD_AGENT_TEST_LOG) process.stderr.write(chunk);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const agent: AgentProcess = {
    child,
    at,
    log: () => text,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
  started.add(agent);
  void exited.then(() => started.delete(agent));
  return agent;
}

/**
 * SIGKILLs the agent and every process that carries its HOME (its Claude Code child and the tools
 * that child ran, which a dead agent leaves orphaned), and waits until none is left.
 */
export async function killAgentTree(agent: AgentProcess): Promise<void> {
  if (agent.alive()) agent.child.kill('SIGKILL');
  await agent.exited;
  await killProcessesWithEnv(`HOME=${agent.at.home}`);
}

/** Kills every agent process a test started (and what they left), then removes their HOMEs. */
export async function killAllAgents(): Promise<void> {
  for (const agent of [...started]) await killAgentTree(agent);
  removeAgentHomes();
}

/** SIGKILLs every process whose environment holds `entry` exactly, until none is left. Linux only. */
export async function killProcessesWithEnv(entry: string): Promise<void> {
  for (let round = 0; round < 100; round++) {
    const left = processesWithEnv(entry);
    if (left.length === 0) return;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`processes with ${entry} survived SIGKILL`);
}

/** Live (non-zombie) processes whose environment holds `entry`. */
export function processesWithEnv(entry: string): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  return names
    .filter((pid) => {
      if (Number(pid) === process.pid) return false;
      try {
        if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false;
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * Polls `check` every 50 ms until it holds, failing with `what` after `timeoutMs`; `explain` adds
 * what the test knows at that moment (task state, logs) to the failure.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  explain?: () => unknown,
) {
  const deadline = Date.now() + timeoutMs;
  // The test's own look at the server may meet a connection the busy machine dropped ("fetch failed"):
  // that is the observer's hiccup, not the system under test's; look again, up to the deadline.
  const holds = () =>
    Promise.resolve()
      .then(check)
      .catch((err: unknown) => {
        if (err instanceof TypeError && err.message === 'fetch failed' && Date.now() < deadline) return false;
        throw err;
      });
  while (!(await holds())) {
    if (Date.now() > deadline) {
      const more = explain ? `\n${JSON.stringify(await explain(), null, 1)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${more}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

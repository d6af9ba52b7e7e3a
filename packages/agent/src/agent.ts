import { homedir, hostname } from 'node:os';
import { ClaimLoop } from './claim/loop.ts';
import { flushAll, stopRuns } from './claim/shutdown.ts';
import { startWatchdog } from './claim/watchdog.ts';
import { abortCauseOf, type RunTask, type SessionDeps } from './claim/worker-session.ts';
import { type AgentConfig, type AgentOptions, configWithDefaults } from './config/agent-config.ts';
import type { Outbox } from './delivery/outbox.ts';
import { replaySpools } from './delivery/replay.ts';
import { detectCapabilities } from './host/capabilities.ts';
import { loadAgentId, lockDataDir } from './host/data-dir.ts';
import { type HealthReport, serveHealth } from './host/health.ts';
import { checkSandbox, type SandboxCheck } from './host/sandbox-check.ts';
import { createLogger, type Log } from './log.ts';
import { createRedactor } from './redact.ts';
import { agentSandboxPolicy } from './run/sandbox.ts';
import type { RunSettings } from './run/types.ts';
import { connectChannel } from './server/channel.ts';
import { type BuilddClient, createClient } from './server/client.ts';
import { noteContact } from './server/contact.ts';
import { ServerRequestError } from './server/request-error.ts';
import { resolveWorkspaces } from './server/workspaces.ts';
import { agentVersion } from './version.ts';

/** What an embedder or a test may replace. */
export interface AgentDeps {
  /** The run (default: the real SDK run from run.ts). */
  runTask?: RunTask;
  log?: Log;
  fetch?: typeof fetch;
  /** Whether to open the push channel (default true). */
  channel?: boolean;
  /** The environment config and capabilities come from (default process.env). */
  env?: Record<string, string | undefined>;
  failureCooldownMs?: number;
  session?: Pick<SessionDeps, 'flushMs' | 'progressMs' | 'finalDeliveryMs'>;
  /** How long runs get to stop after being aborted at shutdown before the agent gives up on them. */
  abortWaitMs?: number;
  /** Whether this machine can sandbox runs (default: `checkSandbox()` runs bubblewrap). */
  checkSandbox?: () => SandboxCheck;
  /** The watchdog's timing (defaults: look every 5 s, 30 s of grace, runs abandoned 15 min past their timeout). */
  watchdog?: { intervalMs?: number; stallGraceMs?: number; hardTimeoutGraceMs?: number };
}

/** A running agent. */
export interface RunningAgent {
  /** Stops claiming, lets runs finish for the grace period, aborts the rest, flushes. Idempotent. */
  stop(): Promise<void>;
  /** Settles when the agent has stopped: rejects if it could not run (bad key, data dir in use, …). */
  done: Promise<void>;
  /** The health endpoint's URL once it listens (with `healthPort`), else undefined. */
  healthUrl(): string | undefined;
}

/**
 * Starts an agent in this process: the CLI uses it, the server's `npm start` runs a local agent with
 * it, tests run agents with it. Options not given come from the environment and the defaults.
 */
export function startAgent(options: AgentOptions, deps: AgentDeps = {}): RunningAgent {
  const env = deps.env ?? process.env;
  const config = configWithDefaults(options, env);
  const secrets = [config.apiKey, config.claude.secret, ...Object.values(config.secretEnv)];
  const log = deps.log ?? createLogger({ level: config.logLevel, format: config.logFormat, secrets });
  const redact = createRedactor(secrets);
  let lastContactAt: number | null = null;
  const client = noteContact(
    createClient({
      server: config.server,
      apiKey: config.apiKey,
      fetch: deps.fetch,
      agentId: () => agentIdOf,
    }),
    () => {
      lastContactAt = Date.now();
    },
  );
  const stopRequested = new AbortController();
  let loop: ClaimLoop | undefined;
  let agentIdOf: string | null = null;
  let sandboxAvailable = false;
  let health: { port: number; close(): Promise<void> } | undefined;
  let stopWatchdog = () => {};

  const healthReport = (): HealthReport => {
    const problems: string[] = [];
    const overdueMs = loop?.stalledForMs() ?? 0;
    if (!loop?.alive) {
      problems.push(
        loop?.fatal
          ? `the server refuses this agent: ${loop.fatal.message}`
          : overdueMs > 0
            ? `the claim loop is ${Math.round(overdueMs / 1000)} s overdue`
            : 'the claim loop is not running',
      );
    }
    const staleMs = Math.max(120_000, 3 * config.pollIntervalMs + 40_000);
    if (lastContactAt === null || Date.now() - lastContactAt > staleMs) {
      problems.push(
        `no answer from the buildd server at ${config.server} for more than ${Math.round(staleMs / 1000)} s`,
      );
    }
    return {
      healthy: problems.length === 0,
      problems,
      agentId: agentIdOf,
      version: agentVersion,
      claimLoop: {
        alive: loop?.alive ?? false,
        overdueSeconds: Math.round(overdueMs / 1000),
        restarts: loop?.restarts ?? 0,
      },
      lastServerContactAt: lastContactAt === null ? null : new Date(lastContactAt).toISOString(),
      runningTasks: loop?.sessions.size ?? 0,
      spoolDepth: (loop?.spoolDepth ?? 0) + replayed.reduce((n, o) => n + o.spool.pending().length, 0),
      sandbox: { enabled: config.sandbox, available: sandboxAvailable },
    };
  };
  let replayed: Outbox[] = [];
  let closeChannel = () => {};
  let shuttingDown: Promise<void> | undefined;

  const shutdown = (claimLoop: ClaimLoop) => {
    shuttingDown ??= (async () => {
      closeChannel();
      stopWatchdog();
      await stopRuns(claimLoop, config.gracePeriodMs, deps.abortWaitMs ?? 30_000, log);
      await flushAll([...claimLoop.background, ...replayed], deps.session?.finalDeliveryMs ?? 5_000);
    })();
    return shuttingDown;
  };

  const serve = async () => {
    const agentId = await loadAgentId(config.dataDir);
    agentIdOf = agentId;
    if (config.healthPort !== undefined) {
      health = await serveHealth(config.healthPort, healthReport).catch((error: Error) => {
        throw new Error(
          `cannot serve the health endpoint on 127.0.0.1:${config.healthPort} (${error.message}): choose another --health-port`,
        );
      });
      log('info', 'health endpoint listening', { url: `http://127.0.0.1:${health.port}/health` });
    }
    const sandboxCheck = (deps.checkSandbox ?? (() => checkSandbox(env.PATH)))();
    sandboxAvailable = sandboxCheck.available;
    const sandbox = checkedSandbox(config, sandboxCheck, log);
    const capabilities = await detectCapabilities(env, config.capabilities);
    log('info', 'buildd agent starting', {
      agent: agentId,
      name: config.name,
      server: config.server,
      version: agentVersion,
      maxTasks: config.maxTasks,
      claudeAuth: config.claude.authType,
      credentialFrom: config.claude.source,
      credentialPrefix: config.claude.prefix,
      capabilities: capabilities.join(','),
      sandboxed: config.sandbox,
    });
    await checkAccount(client, log);
    const workspaceIds = await resolveWorkspaces(client, config.workspaces, log);
    replayed = await replaySpools(config.dataDir, client, log);
    // The SDK is loaded with the first task, not at start: an idle agent stays small.
    const runTask: RunTask =
      deps.runTask ?? (async (worker, ctx) => (await import('./run/run-task.ts')).runTask(worker, ctx));
    // stop() may have come while we were starting: then there is nothing to run.
    if (stopRequested.signal.aborted) return;
    const claimLoop = new ClaimLoop({
      client,
      log,
      maxTasks: config.maxTasks,
      pollIntervalMs: config.pollIntervalMs,
      failureCooldownMs: deps.failureCooldownMs,
      stallGraceMs: deps.watchdog?.stallGraceMs,
      claim: {
        agentId,
        agentName: config.name,
        host: hostname(),
        version: agentVersion,
        capabilities,
        authType: config.claude.authType,
        sandboxed: config.sandbox,
        ...(workspaceIds.length ? { workspaceIds } : {}),
      },
      session: {
        client,
        runTask,
        log,
        redact,
        runSettings: runSettingsOf(config, env, sandbox),
        // Answers and messages come pushed; the poll that catches a lost push runs as often as the claim poll.
        inputPollMs: config.pollIntervalMs,
        ...deps.session,
      },
    });
    loop = claimLoop;
    stopWatchdog = startWatchdog({
      loop: claimLoop,
      log,
      hardTimeoutMs: config.taskTimeoutMs + (deps.watchdog?.hardTimeoutGraceMs ?? 15 * 60_000),
      intervalMs: deps.watchdog?.intervalMs,
    });
    if (deps.channel !== false) {
      closeChannel = connectChannel({
        server: config.server,
        apiKey: config.apiKey,
        agentId,
        log,
        pingMs: config.channelPingMs,
        onConnect: () => claimLoop.wake('hint'),
        onMessage: (message) => {
          if (message.type === 'tasks_available') claimLoop.wake('hint');
          if (message.type === 'cancel') claimLoop.cancel(message.workerId, abortCauseOf(message.reason));
          if (message.type === 'answer' || message.type === 'message') claimLoop.deliver(message);
        },
      }).close;
    }
    // Returns when stop() is called, or at once when the server refuses this agent for good.
    await claimLoop.claimUntilStopped();
    await shutdown(claimLoop);
    if (claimLoop.fatal) throw claimLoop.fatal;
  };

  const main = async () => {
    const release = await lockDataDir(config.dataDir);
    try {
      await serve();
    } finally {
      stopWatchdog();
      for (const outbox of replayed) outbox.close();
      await health?.close();
      await release();
    }
  };

  const done = main();
  // An embedder that never awaits `done` must not get an unhandled rejection (it would end its
  // process), and must still learn why its agent is not running.
  done.catch((error: unknown) => log('error', 'buildd agent stopped on an error', { error }));
  let stopping: Promise<void> | undefined;
  return {
    done,
    healthUrl: () => (health ? `http://127.0.0.1:${health.port}/health` : undefined),
    stop() {
      stopping ??= (async () => {
        stopRequested.abort();
        if (loop) await shutdown(loop);
        await done.catch(() => {});
        log('info', 'buildd agent stopped');
      })();
      return stopping;
    },
  };
}

function runSettingsOf(config: AgentConfig, env: Env, sandboxed: boolean): RunSettings {
  const policy = agentSandboxPolicy({
    dataDir: config.dataDir,
    homes: [env.HOME || homedir(), config.claude.sdkEnv.HOME],
    claudeConfigDir: config.claude.sdkEnv.CLAUDE_CONFIG_DIR,
    secretEnvNames: Object.keys(config.secretEnv),
  });
  return {
    dataDir: config.dataDir,
    claudeEnv: config.claude.sdkEnv,
    defaultModel: config.model,
    timeoutMs: config.taskTimeoutMs,
    sandbox: sandboxed ? policy : null,
    parkAfterMs: config.parkAfterMs,
  };
}

type Env = Record<string, string | undefined>;

/**
 * Sandboxed unless started with `--no-sandbox`; a machine that cannot sandbox refuses to run tasks
 * (the agent does not start) and says how to fix it.
 */
function checkedSandbox(config: AgentConfig, result: SandboxCheck, log: Log): boolean {
  if (!config.sandbox) {
    log(
      'warn',
      "running tasks WITHOUT a sandbox (--no-sandbox): a task's commands can read this machine's files and credentials; workers are reported as unsandboxed",
    );
    return false;
  }
  if (!result.available) {
    throw new Error(
      `cannot run tasks in the sandbox: ${result.problem}. Or start buildd-agent with --no-sandbox to run them unsandboxed (never on a machine whose files or credentials a task must not read)`,
    );
  }
  return true;
}

/** Checks the key before claiming, so a wrong one fails at once with a clear message. */
async function checkAccount(client: BuilddClient, log: Log): Promise<void> {
  try {
    const { account } = await client.me();
    log('info', 'authenticated', { account: account.name, type: account.type, level: account.level });
    if (account.level === 'admin') {
      log(
        'warn',
        "this agent runs with an admin key: a task that gets hold of it could manage every account and workspace. Create a service or member account for agents (POST /api/accounts with type 'service' and level 'member') and use its key",
        { account: account.name },
      );
    }
  } catch (error) {
    if (error instanceof ServerRequestError && error.failure === 'fatal') throw error;
    // Unreachable now: the claim loop retries with backoff and reports it.
    log('warn', 'cannot check the API key yet', { error });
  }
}

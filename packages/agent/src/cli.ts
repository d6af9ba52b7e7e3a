import { startAgent } from './agent.ts';
import { ConfigError, configFilePath, defaults, loadConfig, readConfigFile } from './config/agent-config.ts';
import { agentVersion } from './version.ts';

const help = `buildd-agent ${agentVersion} — claims buildd tasks and runs Claude on them locally

Usage: buildd-agent [options]

Options (flag / environment variable / default):
  --server=URL          BUILDD_SERVER          ${defaults.server}
  --api-key=KEY         BUILDD_API_KEY         required (or "apiKey" in ~/.buildd/config.json)
  --workspace=ID|NAME   BUILDD_WORKSPACE       every claimable workspace; repeat or comma-separate for several
  --max-tasks=N         BUILDD_MAX_TASKS       ${defaults.maxTasks}
  --poll-interval=SEC   BUILDD_POLL_INTERVAL   ${defaults.pollIntervalSeconds}
  --channel-ping=SEC    BUILDD_CHANNEL_PING    ${defaults.channelPingSeconds} (push channel ping; no pong by the next ping: reconnect)
  --name=NAME           BUILDD_AGENT_NAME      the host name
  --data-dir=DIR        BUILDD_AGENT_DATA_DIR  ~/.buildd/agent
  --capability=CAP      BUILDD_CAPABILITIES    extra capabilities (repeatable), added to the detected ones
  --model=MODEL         BUILDD_MODEL           ${defaults.model}
  --task-timeout=MIN    BUILDD_TASK_TIMEOUT    ${defaults.taskTimeoutMinutes}
  --park-after=SEC      BUILDD_PARK_AFTER      ${defaults.parkAfterSeconds} (a run waiting this long for an answer frees its slot)
  --grace-period=SEC    BUILDD_GRACE_PERIOD    ${defaults.gracePeriodSeconds} (how long running tasks may finish on shutdown)
  --auth=oauth|api      BUILDD_CLAUDE_AUTH     oauth when both Claude credentials are set
  --log-level=LEVEL     BUILDD_LOG_LEVEL       ${defaults.logLevel} (debug, info, warn, error)
  --log-format=FORMAT   BUILDD_LOG_FORMAT      pretty on a terminal, json otherwise (json, pretty)
  --health-port=PORT    BUILDD_HEALTH_PORT     none; serves GET /health (JSON, 503 when unhealthy) on 127.0.0.1
  --no-sandbox                                 run tasks' tools WITHOUT the sandbox (bubblewrap); logged,
                                               and each worker is reported as unsandboxed
                        BUILDD_SECRET_ENV      names of variables whose values are secrets (redacted, hidden from tasks)
  -h, --help            this text
  -V, --version         the version

Claude credentials (one is required; neither is ever sent to the buildd server):
  CLAUDE_CODE_OAUTH_TOKEN   seat-based (Claude Pro/Team), no per-token cost
  ANTHROPIC_API_KEY         pay-per-token
`;

/** Runs the CLI; resolves with the exit code. */
async function main(argv: readonly string[]): Promise<number> {
  let result: ReturnType<typeof loadConfig>;
  try {
    result = loadConfig(argv, process.env, readConfigFile(configFilePath()));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`buildd-agent: ${error.message}\n`);
    return 2;
  }
  if (result.action === 'help') {
    process.stdout.write(help);
    return 0;
  }
  if (result.action === 'version') {
    process.stdout.write(`${agentVersion}\n`);
    return 0;
  }
  const agent = startAgent(result.config);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      // Whatever was not reported is in the spool and goes out at the next start.
      process.stderr.write(`buildd-agent: ${signal} again, exiting now\n`);
      process.exit(130);
    }
    process.stderr.write(
      `buildd-agent: ${signal}: finishing running tasks (send it again to exit at once)\n`,
    );
    void agent.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await agent.done;
    await agent.stop();
    return 0;
  } catch (error) {
    await agent.stop();
    process.stderr.write(`buildd-agent: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
// Timers of a library (e.g. an SDK child's pipes) must not keep a stopped agent alive.
process.exit();

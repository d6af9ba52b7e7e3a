/** The buildd agent as a library: start one in-process, or reuse its parts. */
export { type AgentDeps, type RunningAgent, startAgent } from './agent.ts';
export type { RunTask } from './claim/worker-session.ts';
export {
  type AgentConfig,
  type AgentOptions,
  ConfigError,
  type ConfigFile,
  configFilePath,
  configWithDefaults,
  defaults,
  loadConfig,
  readConfigFile,
} from './config/agent-config.ts';
export { type ClaudeAuth, detectClaudeAuth } from './config/claude-auth.ts';
export { detectCapabilities } from './host/capabilities.ts';
export { createLogger, type Log, type LogLevel } from './log.ts';
export { type BuilddClient, createClient } from './server/client.ts';
export { type RequestFailure, ServerRequestError } from './server/request-error.ts';
export { agentVersion } from './version.ts';

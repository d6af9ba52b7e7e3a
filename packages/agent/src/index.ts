/** The buildd agent as a library: start one in-process, or reuse its parts. */
export { type AgentDeps, type RunningAgent, startAgent } from './agent.ts';
export { ApiError, type ApiErrorKind } from './api-error.ts';
export { detectCapabilities } from './capabilities.ts';
export { type ClaudeAuth, detectClaudeAuth } from './claude-auth.ts';
export { type BuilddClient, createClient } from './client.ts';
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
} from './config.ts';
export { createLogger, type Log, type LogLevel } from './log.ts';
export { agentVersion } from './version.ts';
export type { RunTask } from './worker-session.ts';

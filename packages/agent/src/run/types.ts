/**
 * The words the run's modules share: what a run needs (RunContext), where it reports (RunReporter),
 * how it ended (EndState, RunOutcome). Kept in a module of their own so the run's parts import
 * this and not each other.
 */
import type { ExitCause } from '@buildd/protocol';
import type { SandboxPolicy } from './sandbox.ts';

/** The event types a run reports. */
export type RunEventType =
  | 'assistant_text'
  | 'tool_use'
  | 'tool_result'
  | 'status'
  | 'usage'
  | 'git'
  | 'log'
  | 'error';

/** Where a run sends its progress. */
export interface RunReporter {
  /** Queue one progress event; the caller assigns seq, batches and delivers it. */
  event(type: RunEventType, data: Record<string, unknown>): void;
  /** Latest cumulative live figures; the caller throttles and PATCHes them. */
  progress(p: {
    currentAction?: string | null;
    turns?: number;
    inputTokens?: number;
    outputTokens?: number;
    cacheReadTokens?: number;
    costUsd?: number;
    status?: 'running';
  }): void;
}

/** A log function as the run sees it. */
export type RunLog = (
  level: 'debug' | 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** The agent-wide settings every run gets as they are. */
export interface RunSettings {
  dataDir: string;
  /** Environment for the SDK child: PATH, HOME etc. plus exactly one Claude credential. Never sent to the server. */
  claudeEnv: Record<string, string>;
  /** Used when neither task.model nor workspace.config.model is set. */
  defaultModel: string;
  /** Wall-clock limit of one run (checkout and SDK session; not the final push). */
  timeoutMs: number;
  /** What the sandbox denies every run; null runs tools unsandboxed (`--no-sandbox`). */
  sandbox: SandboxPolicy | null;
  /**
   * How long a run waits for an answer before it is parked (default `defaultParkAfterMs`): the worker ends
   * and frees its slot, and the answer starts a new attempt that resumes the conversation.
   */
  parkAfterMs?: number;
}

/** Ten minutes: a person who answers while still at it finds the run alive (and, within five minutes, the
 * model's prompt cache warm); after that a resumed attempt costs about what waiting would, without holding
 * a slot and a seat for hours. */
export const defaultParkAfterMs = 10 * 60_000;

/** What a run may ask of the server, through its worker session (so run modules import no client). */
export interface RunServer {
  /** Uploads an artifact of this run's task; never throws (a failure is logged and reported as an event). */
  uploadArtifact(name: string, contentType: string, bytes: Uint8Array): Promise<void>;
  /** Asks a person and waits for the answer (the lease is renewed meanwhile); throws when it cannot ask. */
  ask(question: { text: string; options: string[] }, signal: AbortSignal): Promise<string>;
  /** An artifact's bytes by SHA-256 (from the local cache when it has them); throws when unavailable. */
  downloadArtifact(sha256: string): Promise<Uint8Array>;
  /**
   * Feeds a person's messages to the running session through `push` (false: the session's input has ended,
   * the message stays with the server). Answers a function that stops it and confirms what was taken.
   */
  openInput(push: (text: string) => boolean): () => Promise<void>;
}

/** What a run needs from the agent around it. */
export interface RunContext extends RunSettings {
  /** Absent in tests that run a task without a server. */
  server?: RunServer;
  /** Aborted by the caller; `signal.reason` is a string cause such as 'cancelled', 'cost_limit', 'lease_lost', 'shutdown'. */
  signal: AbortSignal;
  reporter: RunReporter;
  log: RunLog;
}

/** Cumulative figures of one run, as PATCHed to the server. */
export interface RunTotals {
  turns: number;
  /** Input tokens, cache writes included (they are billed as input). */
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  costUsd: number;
}

/** The status part of a run's outcome. */
export interface EndState {
  /** A parked run is `completed` with exit cause `parked`: it ended as it should, its task waits for an answer. */
  status: 'completed' | 'failed' | 'cancelled';
  exitCause: ExitCause;
  error?: string;
  summary?: string;
}

/** How a run ended, with everything the final PATCH carries. */
export interface RunOutcome extends RunTotals, EndState {
  branch: string;
  commitSha?: string;
  filesChanged?: number;
  linesAdded?: number;
  linesRemoved?: number;
  timings: { prepareMs: number; sdkMs: number; finishMs: number };
}

/** Cut a string to `max` characters, saying how much was left out. */
export function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}… [${value.length - max} more characters]`;
}

/** The caller's abort reason as a string cause ('aborted' when it gave none). */
export function abortReason(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'aborted';
}

/**
 * The exit codes of `buildd`, documented in `buildd --help` and the README. Scripts and CI rely on them,
 * so a code never changes meaning.
 */
export const exitCodes = {
  ok: 0,
  /** The server refused the request (not found, not allowed, a conflict, a limit…); a sentence says why. */
  refused: 1,
  /** A flag or argument is wrong. */
  usage: 2,
  /** No API key, or the server does not accept it. */
  auth: 3,
  /** The server cannot be reached. */
  unreachable: 4,
  /** The server speaks another API version, or is not a buildd server. */
  incompatible: 5,
  /** This server does not offer the feature yet. */
  unsupported: 6,
  taskFailed: 10,
  taskCancelled: 11,
  /** The task is waiting for an answer (`buildd task answer`). */
  taskWaiting: 12,
  /** `--timeout` passed before the task ended. */
  timeout: 124,
  /** Interrupted (Ctrl-C). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** The table printed by `--help` and copied into the README. */
export const exitCodesHelp = `Exit codes:
  0    success; for watch and --wait: the task completed
  1    the server refused the request (the message says why)
  2    a wrong flag or argument
  3    no API key, or the server does not accept it
  4    the server cannot be reached
  5    the server speaks another API version, or is not a buildd server
  6    this server does not support the command yet
  10   the task failed
  11   the task was cancelled
  12   the task is waiting for an answer (buildd task answer)
  124  --timeout passed before the task ended
  130  interrupted`;

/** An error the CLI reports as one sentence on stderr, with its exit code: never a stack trace. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = exitCodes.refused,
    /** The HTTP status behind it, when the server answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A wrong flag or argument, worded for the person typing it. */
export const usageError = (message: string) => new CliError(message, exitCodes.usage);

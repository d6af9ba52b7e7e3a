/**
 * The agent's log: pino, JSON lines by default, pino-pretty's coloured human-readable lines on a
 * terminal (or with `--log-format=pretty`). Both show the same fields; secrets are replaced before
 * either sees them.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import pretty from 'pino-pretty';
import { createRedactor } from './redact.ts';

/** Log levels in increasing order of importance. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** How log lines look: `json` (one object per line) or `pretty` (for people at a terminal). */
export type LogFormat = 'json' | 'pretty';

/** The one logging signature the agent uses everywhere (and hands to `runTask`). */
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** Options of `createLogger`. */
export interface LoggerOptions {
  level?: LogLevel;
  /** Default: `pretty` when stderr is a terminal, `json` otherwise. */
  format?: LogFormat;
  /** Where lines go; stderr by default so stdout stays free for anything a caller pipes. */
  write?: (line: string) => void;
  /**
   * Secret values that must never appear in a log line. Every occurrence is replaced, so a key that
   * sneaks into an error message from a library is still hidden.
   */
  secrets?: readonly string[];
  /** Fields added to every line (e.g. `agent=`). */
  base?: Record<string, unknown>;
}

/** An Error as the sentence it carries (pino would print `{}` for an Error under another key than `err`). */
function plain(value: unknown): unknown {
  return value instanceof Error ? value.message : value;
}

/** The logger of an agent. */
export function createLogger(options: LoggerOptions = {}): Log {
  const redact = createRedactor(options.secrets ?? []);
  const format = options.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const write = options.write;
  const destination = write
    ? new Writable({
        write(chunk, _encoding, done) {
          write(String(chunk));
          done();
        },
      })
    : process.stderr;
  const stream =
    format === 'pretty'
      ? pretty({
          destination,
          colorize: write ? false : process.stderr.isTTY,
          sync: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
        })
      : destination;
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: redact(options.base ?? {}),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return (level, msg, fields) => {
    const safe = fields ? Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, plain(v)])) : {};
    logger[level](redact(safe), redact(msg));
  };
}

/** A logger that adds `fields` to every line of `log`. */
export function childLog(log: Log, fields: Record<string, unknown>): Log {
  return (level, msg, more) => log(level, msg, { ...fields, ...more });
}

/** A logger that drops everything (tests, embedding). */
export const silentLog: Log = () => {};

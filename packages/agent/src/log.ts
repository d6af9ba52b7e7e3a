/** Log levels in increasing order of importance. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The one logging signature the agent uses everywhere (and hands to `runTask`). */
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options of `createLogger`. */
export interface LoggerOptions {
  level?: LogLevel;
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

function formatValue(value: unknown): string {
  if (value instanceof Error) return formatValue(value.message);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined) return '""';
  return /^[\w.:/@+-]+$/.test(text) ? text : JSON.stringify(text);
}

/** A small logfmt logger: one line per event, `time level msg key=value…`. */
export function createLogger(options: LoggerOptions = {}): Log {
  const min = order[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  // Short values would redact ordinary words; real credentials are long.
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 8);
  return (level, msg, fields) => {
    if (order[level] < min) return;
    let line = `${new Date().toISOString()} level=${level} msg=${formatValue(msg)}`;
    for (const [key, value] of Object.entries({ ...options.base, ...fields })) {
      if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
    }
    for (const secret of secrets) line = line.replaceAll(secret, '[redacted]');
    write(`${line}\n`);
  };
}

/** A logger that adds `fields` to every line of `log`. */
export function childLog(log: Log, fields: Record<string, unknown>): Log {
  return (level, msg, more) => log(level, msg, { ...fields, ...more });
}

/** A logger that drops everything (tests, embedding). */
export const silentLog: Log = () => {};

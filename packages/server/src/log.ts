import type { Writable } from 'node:stream';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'pretty' | 'json';

/**
 * Fields whose values are secrets wherever they appear in a log call: both formats print `[redacted]`.
 * Code logs key prefixes, never keys; this is the net under that rule.
 */
const secretPaths = [
  'apiKey',
  'token',
  'password',
  'secret',
  'authorization',
  'cookie',
  'databaseUrl',
  '*.apiKey',
  '*.token',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.cookie',
  '*.databaseUrl',
  '*.headers.authorization',
  '*.headers.cookie',
];

/** Pretty when asked, or by default on a terminal; JSON lines otherwise (files, journald, collectors). */
export function chooseLogFormat(chosen: LogFormat | undefined, isTerminal: boolean): LogFormat {
  return chosen ?? (isTerminal ? 'pretty' : 'json');
}

/**
 * The server's logger. Both formats carry the same fields (time, level, svc, msg and the call's own);
 * the pretty one is pino-pretty's, coloured when the output is a terminal that takes colour.
 */
export function createServerLogger(opts: {
  level: string;
  format: LogFormat;
  /** Where lines go; stdout by default. */
  destination?: Writable;
}): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    base: { svc: 'buildd-server' },
    redact: { paths: secretPaths, censor: '[redacted]' },
  };
  if (opts.format === 'json') {
    return pino(options, (opts.destination as DestinationStream | undefined) ?? pino.destination(1));
  }
  return pino(
    options,
    pretty({
      destination: opts.destination ?? 1,
      sync: true,
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
      singleLine: true,
      ...(opts.destination ? { colorize: false } : {}),
    }),
  );
}

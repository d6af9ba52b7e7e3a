import type { Env } from './config.ts';

/** ANSI styles; each is the identity when colour is off. */
export interface Styles {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const ansi = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const plain = (s: string) => s;

/** Colour only on a terminal, never with NO_COLOR (any non-empty value) or `--no-color`. */
export function wantsColor(stream: { isTTY?: boolean }, env: Env, flag: boolean): boolean {
  return flag && Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
}

export function styles(color: boolean): Styles {
  if (!color) return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain };
  return {
    bold: ansi(1, 22),
    dim: ansi(2, 22),
    red: ansi(31, 39),
    green: ansi(32, 39),
    yellow: ansi(33, 39),
    cyan: ansi(36, 39),
  };
}

/** Where a command prints: human text, or JSON with `--json`. */
export interface Output {
  json: boolean;
  /** Whether stdout is a terminal (live progress lines redraw in place there). */
  tty: boolean;
  style: Styles;
  /** A line (or lines) of human text on stdout. */
  line(text?: string): void;
  /** Raw text on stdout, as it is. */
  write(text: string): void;
  /** A value as pretty JSON on stdout (one document). */
  printJson(value: unknown): void;
  /** A note for the person, on stderr (so stdout stays clean for pipes). */
  note(text: string): void;
}

/** Makes the output of one run of the CLI. */
export function makeOutput(opts: { json: boolean; color: boolean; env: Env }): Output {
  const color = wantsColor(process.stdout, opts.env, opts.color);
  return {
    json: opts.json,
    tty: Boolean(process.stdout.isTTY),
    style: styles(color && !opts.json),
    line: (text = '') => process.stdout.write(`${text}\n`),
    write: (text) => process.stdout.write(text),
    printJson: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    note: (text) => process.stderr.write(`${text}\n`),
  };
}

/** A column of a table: its heading and how to show a row's cell. */
export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Longest cell before it is cut with "…". */
  max?: number;
  /** Right-aligned (numbers). */
  right?: boolean;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes take no room on screen
const visibleLength = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;

/** A plain-text table with a heading row; an empty list prints `empty` instead. */
export function table<T>(rows: readonly T[], columns: Column<T>[], empty = 'Nothing to show.'): string {
  if (rows.length === 0) return empty;
  const cells = rows.map((row) =>
    columns.map((c) => {
      const v = c.value(row).replace(/\s+/g, ' ');
      return c.max && v.length > c.max ? `${v.slice(0, c.max - 1)}…` : v;
    }),
  );
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => visibleLength(r[i] ?? ''))),
  );
  const pad = (s: string, i: number) => {
    const gap = ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(s)));
    return columns[i]?.right ? gap + s : s + gap;
  };
  const lines = [columns.map((c, i) => pad(c.header, i)), ...cells.map((r) => r.map(pad))];
  return lines.map((l) => l.join('  ').trimEnd()).join('\n');
}

/** Label/value lines, labels aligned. */
export function details(pairs: [string, string | null | undefined][]): string {
  const shown = pairs.filter(
    (p): p is [string, string] => p[1] !== null && p[1] !== undefined && p[1] !== '',
  );
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

/** Dollars with four decimals below a dollar (model runs cost cents). */
export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value < 1 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

/** A count with thousands separators. */
export const count = (n: number) => n.toLocaleString('en-US');

/** How long ago a timestamp was, shortly ("12s", "5m", "3h", "2d"). */
export function age(timestamp: string | null | undefined, now = Date.now()): string {
  if (!timestamp) return '—';
  const seconds = Math.max(0, Math.round((now - Date.parse(timestamp)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** A duration in seconds, shortly ("42 s", "3 min 5 s"). */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

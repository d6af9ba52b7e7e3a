import { ConfigError, type Env } from './file.ts';

/** A raw value and where it came from (`--max-tasks`, `BUILDD_MAX_TASKS`, the config file), for messages. */
export type Picked = { value: string; from: string };

/** Rewords a `parseArgs` error as a sentence for the operator. */
export function argumentProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const unknown = /option '([^']+)'/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
    return `unknown option ${unknown}: see buildd-agent --help`;
  }
  const positional = /argument '([^']+)'/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && positional) {
    return `unexpected argument '${positional}': options take the form --name=value (see buildd-agent --help)`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
    return `${message.replace(/\.$/, '')}: see buildd-agent --help`;
  return message;
}

/** An http(s) URL, without a trailing slash. */
export function url(picked: Picked): string {
  const value = picked.value.trim();
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new ConfigError(`${picked.from} must be an http(s) URL like http://localhost:3000, got '${value}'`);
  }
  return value.replace(/\/+$/, '');
}

/** A number in a range (`int`: whole numbers only); `fallback` when not given. */
export function number(
  picked: Picked | undefined,
  fallback: number,
  range: { min: number; max: number; int?: boolean },
) {
  if (!picked) return fallback;
  const value = picked.value.trim();
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  const kind = range.int ? 'a whole number' : 'a number';
  if (Number.isNaN(n) || (range.int && !Number.isInteger(n)) || n < range.min || n > range.max) {
    throw new ConfigError(`${picked.from} must be ${kind} from ${range.min} to ${range.max}, got '${value}'`);
  }
  return n;
}

/** A non-empty string of at most `max` characters; `fallback` when not given. */
export function text(picked: Picked | undefined, fallback: string, max: number): string {
  if (!picked) return fallback;
  const value = picked.value.trim();
  if (!value) throw new ConfigError(`${picked.from} must not be empty`);
  if (value.length > max) throw new ConfigError(`${picked.from} is too long (at most ${max} characters)`);
  return value;
}

/** One of `allowed`. */
export function oneOf<T extends string>(picked: Picked, allowed: readonly T[]): T {
  const value = picked.value.trim() as T;
  if (!allowed.includes(value)) {
    throw new ConfigError(`${picked.from} must be one of ${allowed.join(', ')}, got '${picked.value}'`);
  }
  return value;
}

/** Values given repeatedly and/or comma-separated (`--workspace a,b --workspace c`). */
export function list(flags: string[] | undefined, env: Env, flag: string, envName: string): string[] {
  const max = 100;
  const envValue = env[envName];
  const raw = flags ?? (envValue ? [envValue] : []);
  const from = flags ? flag : envName;
  const items = raw.flatMap((v) => v.split(',')).map((v) => v.trim());
  for (const item of items) {
    if (!item) throw new ConfigError(`${from} has an empty value: give a name, or leave the option out`);
    if (item.length > max)
      throw new ConfigError(`${from} value '${item}' is too long (at most ${max} characters)`);
  }
  return [...new Set(items)];
}

import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, exitCodes } from './exit-codes.ts';

/** An environment as `process.env` has it. */
export type Env = Record<string, string | undefined>;

/** Where buildd talks to when nothing says otherwise (the server's default port). */
export const defaultServer = 'http://localhost:3000';

/** `~/.buildd/config.json`: written by the server's first start and `buildd login`, read by the agent too. */
export interface ConfigFile {
  server?: string;
  apiKey?: string;
  /** Keys other tools keep in the same file; kept as they are when the CLI rewrites it. */
  [other: string]: unknown;
}

/** The config file's path: `$BUILDD_CONFIG_DIR/config.json`, by default `~/.buildd/config.json`. */
export function configPath(env: Env = process.env): string {
  return join(env.BUILDD_CONFIG_DIR || join(env.HOME || homedir(), '.buildd'), 'config.json');
}

/** Reads the config file; a missing one is empty, a broken one is an error that names it. */
export async function readConfig(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`Cannot read ${path}: ${(error as Error).message}.`, exitCodes.usage);
  }
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
    return json as ConfigFile;
  } catch (error) {
    throw new CliError(
      `${path} is not valid JSON (${(error as Error).message}): fix it or delete it and run \`buildd login\`.`,
      exitCodes.usage,
    );
  }
}

/** Writes the config file with mode 0600 (it holds an API key), atomically, keeping other tools' keys. */
export async function writeConfig(path: string, config: ConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
}

/** Where to connect and with which key, and where each came from (for messages). */
export interface Connection {
  server: string;
  apiKey: string | undefined;
  keySource: 'flag' | 'environment' | 'config file' | 'none';
}

/** Flags > environment (BUILDD_SERVER, BUILDD_API_KEY) > config file > the default server. */
export function resolveConnection(
  flags: { server?: string; apiKey?: string },
  env: Env,
  file: ConfigFile,
): Connection {
  const fileServer = typeof file.server === 'string' ? file.server : undefined;
  const fileKey = typeof file.apiKey === 'string' ? file.apiKey : undefined;
  const server = flags.server || env.BUILDD_SERVER || fileServer || defaultServer;
  const [apiKey, keySource]: [string | undefined, Connection['keySource']] = flags.apiKey
    ? [flags.apiKey, 'flag']
    : env.BUILDD_API_KEY
      ? [env.BUILDD_API_KEY, 'environment']
      : fileKey
        ? [fileKey, 'config file']
        : [undefined, 'none'];
  return { server: normalizeServer(server), apiKey, keySource };
}

/** A server URL without trailing slashes; `localhost:3000` gets `http://`. A bad one is a usage error. */
export function normalizeServer(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`"${value}" is not a server URL (like http://localhost:3000).`, exitCodes.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`"${value}" is not an http:// or https:// URL.`, exitCodes.usage);
  }
  return withScheme.replace(/\/+$/, '');
}

/** The first characters of a key, enough to recognise it; the rest never appears in output. */
export function keyPrefix(key: string): string {
  return `${key.slice(0, Math.min(16, Math.max(4, key.length - 8)))}…`;
}

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** An environment as `process.env` has it. */
export type Env = Record<string, string | undefined>;

/** `~/.buildd/config.json`, written by the server's first start. */
export interface ConfigFile {
  server?: string;
  apiKey?: string;
}

/** A configuration problem, worded for the operator. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The default location of the shared config file. */
export function configFilePath(env: Env = process.env): string {
  return join(env.HOME || homedir(), '.buildd', 'config.json');
}

/** Reads the config file; a missing file is no error, a broken one is. */
export function readConfigFile(path: string): ConfigFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json !== 'object' || json === null) throw new Error('not an object');
    const { server, apiKey } = json as Record<string, unknown>;
    return {
      server: typeof server === 'string' ? server : undefined,
      apiKey: typeof apiKey === 'string' ? apiKey : undefined,
    };
  } catch (error) {
    throw new ConfigError(`${path} is not valid JSON (${(error as Error).message}): fix or delete it`);
  }
}

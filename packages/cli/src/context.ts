import type { Command } from 'commander';
import { ApiClient } from './client.ts';
import { type Connection, configPath, type Env, readConfig, resolveConnection } from './config.ts';
import { makeOutput, type Output } from './output.ts';

/** Flags every command accepts. */
export interface GlobalFlags {
  server?: string;
  apiKey?: string;
  json?: boolean;
  color: boolean;
}

/** What a command runs with: its output, the environment, and the way to the server. */
export interface Ctx {
  out: Output;
  env: Env;
  flags: GlobalFlags;
  configPath: string;
  connection(): Promise<Connection>;
  client(): Promise<ApiClient>;
}

/** Builds the context of one command from its flags (and its parents'). */
export function makeContext(flags: GlobalFlags, env: Env = process.env): Ctx {
  const path = configPath(env);
  const connection = async () => resolveConnection(flags, env, await readConfig(path));
  return {
    out: makeOutput({ json: Boolean(flags.json), color: flags.color, env }),
    env,
    flags,
    configPath: path,
    connection,
    client: async () => new ApiClient(await connection()),
  };
}

/**
 * Wraps a command's handler for commander: the handler gets the context, then the positional arguments
 * and the command's options as commander passes them; what it returns becomes the exit code.
 */
export function action<A extends unknown[]>(
  handler: (ctx: Ctx, ...args: A) => Promise<number | undefined>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const ctx = makeContext(command.optsWithGlobals() as GlobalFlags);
    process.exitCode = (await handler(ctx, ...(args.slice(0, -1) as A))) ?? 0;
  };
}

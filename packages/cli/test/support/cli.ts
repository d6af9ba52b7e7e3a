/**
 * Runs `buildd` as a real process (bin/buildd.mjs), with its own config dir and HOME and nothing of
 * this machine's environment that could point it at a real server or key.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track, untrack } from '../../../server/test/support/leaks.ts';

export const cliBin = fileURLToPath(new URL('../../bin/buildd.mjs', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A home of its own for one test: `HOME` and `BUILDD_CONFIG_DIR` inside a new temp dir. */
export function cliHome(): { home: string; configDir: string; env: Record<string, string> } {
  const home = mkdtempSync(join(tmpdir(), 'buildd-cli-home-'));
  const configDir = join(home, '.buildd');
  return { home, configDir, env: { HOME: home, BUILDD_CONFIG_DIR: configDir } };
}

/** The environment a CLI process gets: PATH, and what the test passes. */
export function cliEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', ...env };
}

/** A CLI process the test can read while it runs (`logs -f`, `watch`). */
export interface RunningCli {
  child: ChildProcess;
  /** Everything printed on stdout so far. */
  stdout(): string;
  done: Promise<CliResult>;
}

/** Starts `buildd <args>`; `input` is written to its stdin (then closed). */
export function startCli(args: string[], env: Record<string, string>, input?: string): RunningCli {
  const child = spawn(process.execPath, [cliBin, ...args], {
    env: cliEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += String(d);
  });
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  child.stdin!.end(input ?? '');
  // A process a failing test left behind is stopped (and reported) by the per-file leak check.
  const handle = {};
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code) => {
      untrack(handle);
      resolve({ code, stdout, stderr });
    });
  });
  track(handle, `buildd ${args.join(' ')}`, async () => {
    child.kill('SIGKILL');
    await done;
  });
  return { child, stdout: () => stdout, done };
}

/** Runs `buildd <args>` to its end. */
export function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return startCli(args, env, input).done;
}

/** Runs `buildd --json <args>`, expects exit 0 and answers the parsed stdout. */
export async function cliJson<T = any>(
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<T> {
  const r = await runCli(['--json', ...args], env, input);
  if (r.code !== 0) throw new Error(`buildd ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

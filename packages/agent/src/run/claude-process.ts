/**
 * The Claude Code child process of one run, spawned for the SDK (its `spawnClaudeCodeProcess` hook)
 * so the run can wait for it to exit and sweep up what it leaves before the worktree is removed.
 *
 * Why: the SDK's iterator ends (or throws on abort) while the child is still shutting down, and
 * Claude Code runs each Bash tool in its own session, outside the child's process group. Every
 * process of the run therefore carries a run token in its environment; after the child has exited,
 * any process still carrying the token (a tool that outlived it, a server started with `&`) is killed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { SpawnedProcess, SpawnOptions } from '@anthropic-ai/claude-agent-sdk';

/** Name of the environment variable that marks every process of a run. */
export const runTokenVariable = 'BUILDD_RUN_TOKEN';

/** Spawns and reaps the Claude Code child of one run. */
export class ClaudeProcess {
  /** Put this into the child's environment: `{ [runTokenVariable]: token }`. */
  readonly token = randomUUID();
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly onStderr: (text: string) => void) {}

  /** The `spawnClaudeCodeProcess` option. */
  readonly spawn = (options: SpawnOptions): SpawnedProcess => {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: { ...options.env, [runTokenVariable]: this.token },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C meant for the agent must not kill the run behind the
      // agent's back; the agent decides (grace period, then abort).
      detached: true,
      windowsHide: true,
    });
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => this.onStderr(text));
    // The SDK fires this signal only after its own graceful close (stdin EOF + ~2 s) failed.
    options.signal?.addEventListener('abort', () => this.killGroup('SIGTERM'), { once: true });
    return child as unknown as SpawnedProcess;
  };

  /**
   * Wait for the child to exit (killing it after `graceMs`), then kill every process that still
   * carries the run token. Resolves once nothing of the run is left running (as far as it can tell).
   */
  async stop(graceMs: number): Promise<void> {
    if (!this.child) return;
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      this.killGroup('SIGKILL');
      await this.exited;
    }
    this.killGroup('SIGKILL');
    await killTagged(`${runTokenVariable}=${this.token}`);
  }

  private killGroup(signal: NodeJS.Signals) {
    const pid = this.child?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }
}

/** Kill (SIGKILL) every process whose environment holds `entry`, and wait until they are gone. Linux only. */
async function killTagged(entry: string): Promise<void> {
  const tagged = () => {
    let pids: string[];
    try {
      pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
    } catch {
      return []; // no /proc: not Linux, nothing to sweep
    }
    return pids.filter((pid) => {
      try {
        if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false; // a zombie is dead already
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry);
      } catch {
        return false; // ended meanwhile, or not ours to read
      }
    });
  };
  for (let round = 0; round < 20; round++) {
    const left = tagged();
    if (left.length === 0) return;
    for (const pid of left) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

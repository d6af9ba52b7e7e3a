/**
 * Helpers to run real agents in-process against the fake buildd server: a scripted `runTask` whose
 * runs the test ends at will, a config builder with a temporary HOME/data dir, and `waitFor`.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClaimedWorker } from '@buildd/protocol';
import type { RunTask } from '../../src/claim/worker-session.ts';
import { type AgentConfig, loadConfig } from '../../src/config/agent-config.ts';
import type { Log, LogLevel } from '../../src/log.ts';
import type { RunContext, RunOutcome } from '../../src/run/types.ts';
import { makeWorker } from './run-fixtures.ts';

/** Fake Claude credentials: long enough to be redacted, recognisable if they ever leak. */
export const fakeOauthToken = 'sk-ant-oat01-FAKE-OAUTH-never-send-to-buildd-0123456789';
export const fakeApiKey = 'sk-ant-api03-FAKE-APIKEY-never-send-to-buildd-0123456789';

/** An agent config for tests: temp HOME and data dir, fake credentials, fast polling. */
export function testConfig(
  server: string,
  flags: string[] = [],
  env: Record<string, string> = {},
): AgentConfig {
  const home = mkdtempSync(join(tmpdir(), 'buildd-agent-home-'));
  const result = loadConfig(
    // A short grace period by default, so a failing test does not wait 30 s in its clean-up.
    [
      `--server=${server}`,
      '--api-key=buildd_user_test_key_0123456789',
      '--name=test-agent',
      '--grace-period=1',
      ...flags,
    ],
    { HOME: home, PATH: process.env.PATH, CLAUDE_CODE_OAUTH_TOKEN: fakeOauthToken, ...env },
  );
  if (result.action !== 'run') throw new Error('unexpected');
  return result.config;
}

/** A claimed worker as the fake hands it out, renewing its lease every `renewSeconds`. */
export function claimed(renewSeconds = 15, id?: string): ClaimedWorker {
  return { ...makeWorker(id ? { id } : {}), renewSeconds };
}

/** A run the test controls. */
export interface ScriptedRun {
  worker: ClaimedWorker;
  ctx: RunContext;
  /** Ends the run with this outcome (status completed unless given). */
  finish(outcome?: Partial<RunOutcome>): void;
  ended: boolean;
}

/** A `runTask` that records runs and ends each when the test says (or, if aborted, as cancelled). */
export function scriptedRuns() {
  const runs: ScriptedRun[] = [];
  let active = 0;
  let maxActive = 0;
  const runTask: RunTask = (worker, ctx) =>
    new Promise<RunOutcome>((resolve) => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      const run: ScriptedRun = {
        worker,
        ctx,
        ended: false,
        finish(outcome = {}) {
          if (run.ended) return;
          run.ended = true;
          active -= 1;
          resolve({ ...outcomeOf(worker), ...outcome });
        },
      };
      ctx.signal.addEventListener('abort', () => run.finish({ status: 'cancelled', exitCause: 'cancelled' }));
      runs.push(run);
    });
  return {
    runTask,
    runs,
    get active() {
      return active;
    },
    get maxActive() {
      return maxActive;
    },
  };
}

/** A completed outcome with some totals. */
export function outcomeOf(worker: ClaimedWorker): RunOutcome {
  return {
    status: 'completed',
    exitCause: 'completed',
    summary: 'done',
    branch: worker.branch,
    costUsd: 0.01,
    turns: 2,
    inputTokens: 100,
    outputTokens: 20,
    cacheReadTokens: 0,
    timings: { prepareMs: 1, sdkMs: 1, finishMs: 1 },
  };
}

/** A log that keeps lines for assertions (and prints them when BUILDD_AGENT_TEST_LOG is set). */
export function memoryLog() {
  const lines: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[] = [];
  const log: Log = (level, msg, fields) => {
    lines.push({ level, msg, fields });
    if (process.env.BUILDD_AGENT_TEST_LOG) console.error(level, msg, fields ?? '');
  };
  return { log, lines, count: (msg: string) => lines.filter((l) => l.msg === msg).length };
}

/** Polls `check` until it returns true, failing after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves after `ms`. */
export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The environment of an agent that runs the real SDK against the fake Messages API: its own
 * temporary HOME, Claude config and temp dirs (never this machine's ~/.claude), no retries.
 */
export function sdkTestEnv(anthropicUrl: string): Record<string, string> {
  const home = mkdtempSync(join(tmpdir(), 'buildd-agent-home-'));
  mkdirSync(join(home, 'tmp'));
  return {
    HOME: home,
    CLAUDE_CONFIG_DIR: join(home, '.claude'),
    CLAUDE_CODE_TMPDIR: join(home, 'tmp'),
    ANTHROPIC_BASE_URL: anthropicUrl,
    CLAUDE_CODE_MAX_RETRIES: '0',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
}

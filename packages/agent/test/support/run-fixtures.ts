/**
 * Builders for runTask tests: a zod-valid ClaimedWorker, an isolated Claude environment pointing at
 * the fake Messages API, and a RunContext whose reporter records everything.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ClaimedWorker, type Task, type Workspace } from '@buildd/protocol';
import { afterEach, beforeEach } from 'vitest';
import { agentSandboxPolicy } from '../../src/run/sandbox.ts';
import type { RunContext, RunReporter } from '../../src/run/types.ts';
import {
  type FakeAnthropic,
  type FakeAnthropicOptions,
  type Step,
  startFakeAnthropic,
} from './fake-anthropic.ts';
import { makeOrigin, type Origin, tempDir } from './git-fixtures.ts';

let counter = 0;

/** A claimed worker as the server would hand it out; override any task or workspace field. */
export function makeWorker(
  opts: { task?: Partial<Task>; workspace?: Partial<Workspace>; branch?: string; id?: string } = {},
): ClaimedWorker {
  const n = ++counter;
  const now = new Date().toISOString();
  const workspace: Workspace = {
    id: 'ws-test',
    name: 'test',
    repoUrl: null,
    defaultBranch: 'main',
    access: 'open',
    maxRunningTasks: null,
    config: {},
    createdAt: now,
    ...opts.workspace,
  };
  const prompt = opts.task?.prompt ?? `test task ${n}`;
  const task: Task = {
    id: `task-${n}`,
    workspaceId: workspace.id,
    title: `Test task ${n}`,
    prompt,
    description: prompt,
    priority: 0,
    status: 'assigned',
    runnerPreference: 'any',
    requiredCapabilities: [],
    dependsOn: [],
    maxAttempts: 3,
    attempts: 1,
    budgetUsd: null,
    maxTurns: null,
    model: 'claude-sonnet-4-5',
    result: null,
    error: null,
    exitCause: null,
    costUsd: 0,
    createdBy: 'acct-test',
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    finishedAt: null,
    ...opts.task,
  };
  return ClaimedWorker.parse({
    id: opts.id ?? `wrk-${process.pid}-${n}`,
    taskId: task.id,
    task,
    workspace,
    branch: opts.branch ?? `buildd/task-${n}`,
    leaseExpiresAt: now,
    leaseSeconds: 60,
    renewSeconds: 15,
  });
}

/**
 * The SDK child's environment: a temporary HOME and Claude config dir (never the machine's real
 * ~/.claude, which may hold a login), the fake as base URL, no retries, and one credential.
 */
export function claudeEnvFor(home: string, fakeUrl: string, credential: Credential): Record<string, string> {
  mkdirSync(join(home, 'tmp'), { recursive: true });
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    CLAUDE_CONFIG_DIR: join(home, '.claude'),
    CLAUDE_CODE_TMPDIR: join(home, 'tmp'),
    ANTHROPIC_BASE_URL: fakeUrl,
    CLAUDE_CODE_MAX_RETRIES: '0',
    ...('apiKey' in credential
      ? { ANTHROPIC_API_KEY: credential.apiKey }
      : { CLAUDE_CODE_OAUTH_TOKEN: credential.oauthToken }),
  };
}

/** A recorded reporter call. */
export type Recorded =
  | { kind: 'event'; type: Parameters<RunReporter['event']>[0]; data: Record<string, unknown> }
  | { kind: 'progress'; data: Parameters<RunReporter['progress']>[0] };

/** A RunContext with defaults for tests; `recorded` holds every reporter call in order. */
export function makeContext(
  overrides: Partial<RunContext> & Pick<RunContext, 'dataDir' | 'claudeEnv'>,
): RunContext & { recorded: Recorded[]; events: (type: string) => Record<string, unknown>[] } {
  const recorded: Recorded[] = [];
  return {
    defaultModel: 'claude-sonnet-4-5',
    timeoutMs: 60_000,
    signal: new AbortController().signal,
    reporter: {
      event: (type, data) => recorded.push({ kind: 'event', type, data }),
      progress: (data) => recorded.push({ kind: 'progress', data }),
    },
    log: () => {},
    // Sandboxed, as every run of a real agent is unless it was started with --no-sandbox.
    sandbox: agentSandboxPolicy({
      dataDir: overrides.dataDir,
      homes: [overrides.claudeEnv.HOME],
      claudeConfigDir: overrides.claudeEnv.CLAUDE_CONFIG_DIR,
    }),
    ...overrides,
    recorded,
    events: (type) => recorded.flatMap((r) => (r.kind === 'event' && r.type === type ? [r.data] : [])),
  };
}

/** Per-test surroundings of a run: a temp root, a bare origin in it and (once started) a fake API. */
export interface RunFixtures {
  root: string;
  origin: Origin;
  dataDir: string;
  fake: FakeAnthropic | null;
  /** Start the fake with a script (or options) and return the Claude env pointing at it. */
  start(script: Step[] | FakeAnthropicOptions, credential?: Credential): Promise<RunSetup>;
}

type Credential = { apiKey: string } | { oauthToken: string };

/** What `RunFixtures.start` returns. */
export interface RunSetup {
  fake: FakeAnthropic;
  dataDir: string;
  claudeEnv: Record<string, string>;
}

/** Test API key: shaped like a real one, accepted only by the fake. */
export const testApiKey = 'sk-ant-test-0123456789abcdef';

/**
 * Register beforeEach/afterEach hooks that give each test a fresh RunFixtures and remove it (temp
 * dirs, the fake server) afterwards. Call at the top of a test file.
 */
export function useRunFixtures(originFiles: Record<string, string> = {}): RunFixtures {
  const box = { fake: null } as RunFixtures;
  beforeEach(() => {
    box.root = tempDir('buildd-run-');
    box.origin = makeOrigin(box.root, { files: originFiles });
    box.dataDir = join(box.root, 'data');
    box.fake = null;
  });
  afterEach(async () => {
    await box.fake?.close();
    box.fake = null;
    rmSync(box.root, { recursive: true, force: true });
  });
  box.start = async (script, credential = { apiKey: testApiKey }) => {
    await box.fake?.close();
    const fake = await startFakeAnthropic(Array.isArray(script) ? { script } : script);
    box.fake = fake;
    return {
      fake,
      dataDir: box.dataDir,
      claudeEnv: claudeEnvFor(join(box.root, 'home'), fake.url, credential),
    };
  };
  return box;
}

import { z } from 'zod';
import {
  AccountLevel,
  AccountType,
  AuthType,
  Id,
  RunnerPreference,
  TaskStatus,
  Timestamp,
  WorkerStatus,
} from './common.ts';
import { Question } from './questions.ts';

export const Account = z.object({
  id: Id,
  name: z.string(),
  type: AccountType,
  level: AccountLevel,
  maxConcurrentWorkers: z.number().int(),
  maxConcurrentSessions: z.number().int(),
  maxCostPerDayUsd: z.number().nullable(),
  createdAt: Timestamp,
});
export type Account = z.infer<typeof Account>;

export const ApiKey = z.object({
  id: Id,
  accountId: Id,
  name: z.string().nullable(),
  /** The first characters of the key, enough to recognise it in a list or a log. */
  prefix: z.string(),
  createdAt: Timestamp,
  lastUsedAt: Timestamp.nullable(),
  revokedAt: Timestamp.nullable(),
});
export type ApiKey = z.infer<typeof ApiKey>;

export const WorkspaceAccess = z.enum(['open', 'restricted']);
export type WorkspaceAccess = z.infer<typeof WorkspaceAccess>;

/** Defaults a workspace hands to each of its tasks. */
export const WorkspaceConfig = z.object({
  model: z.string().max(200).optional(),
  maxTurns: z.number().int().positive().max(10_000).optional(),
  budgetUsd: z.number().positive().max(100_000).optional(),
  branchPrefix: z.string().max(100).optional(),
  instructions: z.string().max(20_000).optional(),
  /** Whether agents push the task branch to the repository's origin. */
  push: z.boolean().optional(),
  /**
   * `owner/name` of the workspace's GitHub repository: the server opens a pull request for each completed
   * task's pushed branch, and tasks that prefer `action` runners start its workflow.
   */
  githubRepo: z
    .string()
    .regex(/^[\w.-]+\/[\w.-]+$/, 'githubRepo must look like owner/name')
    .optional(),
  /** Whether completed tasks get a pull request when `githubRepo` is set (default true). */
  pullRequests: z.boolean().optional(),
  /** Whether those pull requests are opened as drafts (default true: a person marks them ready). */
  draftPullRequests: z.boolean().optional(),
  /** Hosts a task's commands may reach from the agent's sandbox (e.g. `registry.npmjs.org`, `*.github.com`). */
  allowedDomains: z.array(z.string().min(1).max(253)).max(200).optional(),
  /** Directories outside the worktree a task's commands may write from the sandbox (caches, e.g. `~/.npm`). */
  writableCaches: z.array(z.string().min(1).max(4096)).max(50).optional(),
});
export type WorkspaceConfig = z.infer<typeof WorkspaceConfig>;

export const Workspace = z.object({
  id: Id,
  name: z.string(),
  repoUrl: z.string().nullable(),
  defaultBranch: z.string(),
  access: WorkspaceAccess,
  /** Most tasks of this workspace running at once; null = no limit of its own. */
  maxRunningTasks: z.number().int().nullable(),
  config: WorkspaceConfig,
  /** Whether the workspace has a GitHub token of its own (the token itself is never returned). */
  hasGithubToken: z.boolean().optional(),
  createdAt: Timestamp,
});
export type Workspace = z.infer<typeof Workspace>;

export const WorkspaceMember = z.object({
  workspaceId: Id,
  accountId: Id,
  canClaim: z.boolean(),
  canCreate: z.boolean(),
});
export type WorkspaceMember = z.infer<typeof WorkspaceMember>;

export const TaskResult = z.object({
  summary: z.string().nullable(),
  branch: z.string().nullable(),
  commitSha: z.string().nullable(),
  filesChanged: z.number().int().nullable(),
  linesAdded: z.number().int().nullable(),
  linesRemoved: z.number().int().nullable(),
  prUrl: z.string().nullable(),
});
export type TaskResult = z.infer<typeof TaskResult>;

/**
 * The pull request the server keeps for a task's pushed branch: `pending` while it is being opened or
 * updated (with the last attempt's `error` when GitHub failed and it will try again), `open` once GitHub
 * answered, `failed` when it gave up (the task's own work is unaffected).
 */
export const TaskPullRequest = z.object({
  state: z.enum(['pending', 'open', 'failed']),
  url: z.string().nullable(),
  number: z.number().int().nullable(),
  error: z.string().nullable(),
  attempts: z.number().int(),
  updatedAt: Timestamp,
});
export type TaskPullRequest = z.infer<typeof TaskPullRequest>;

export const Worker = z.object({
  id: Id,
  taskId: Id,
  accountId: Id,
  agentId: z.string(),
  status: WorkerStatus,
  /** null for a worker of an older agent that named no auth type. */
  authType: AuthType.nullable(),
  branch: z.string(),
  leaseExpiresAt: Timestamp,
  currentAction: z.string().nullable(),
  turns: z.number().int(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheReadTokens: z.number().int(),
  costUsd: z.number(),
  summary: z.string().nullable(),
  error: z.string().nullable(),
  exitCause: z.string().nullable(),
  commitSha: z.string().nullable(),
  filesChanged: z.number().int().nullable(),
  linesAdded: z.number().int().nullable(),
  linesRemoved: z.number().int().nullable(),
  prUrl: z.string().nullable(),
  /** Whether the run's tools ran in the agent's sandbox; null when the agent did not say (older agents). */
  sandboxed: z.boolean().nullable(),
  lastEventSeq: z.number().int(),
  createdAt: Timestamp,
  startedAt: Timestamp.nullable(),
  finishedAt: Timestamp.nullable(),
});
export type Worker = z.infer<typeof Worker>;

export const Task = z.object({
  id: Id,
  workspaceId: Id,
  title: z.string(),
  prompt: z.string(),
  /** The prompt again, under the name older agents read. */
  description: z.string(),
  priority: z.number().int(),
  status: TaskStatus,
  runnerPreference: RunnerPreference,
  requiredCapabilities: z.array(z.string()),
  dependsOn: z.array(Id),
  maxAttempts: z.number().int(),
  attempts: z.number().int(),
  budgetUsd: z.number().nullable(),
  maxTurns: z.number().int().nullable(),
  model: z.string().nullable(),
  result: TaskResult.nullable(),
  /** The pull request of the task's branch (a workspace with `githubRepo`); null when there is none. */
  pullRequest: TaskPullRequest.nullable().optional(),
  /** The open question of a task that is `waiting_input`; null otherwise. */
  question: Question.nullable().optional(),
  error: z.string().nullable(),
  exitCause: z.string().nullable(),
  costUsd: z.number(),
  createdBy: Id,
  /** Who cancelled the task (its creator or an admin), and when; null unless it was cancelled. */
  cancelledBy: Id.nullable().optional(),
  cancelledAt: Timestamp.nullable().optional(),
  /** Who last retried the task, and when. */
  retriedBy: Id.nullable().optional(),
  retriedAt: Timestamp.nullable().optional(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  startedAt: Timestamp.nullable(),
  finishedAt: Timestamp.nullable(),
});
export type Task = z.infer<typeof Task>;

export const TaskWithWorkers = Task.extend({ workers: z.array(Worker) });
export type TaskWithWorkers = z.infer<typeof TaskWithWorkers>;

export const Agent = z.object({
  id: z.string(),
  accountId: Id,
  name: z.string(),
  host: z.string().nullable(),
  version: z.string().nullable(),
  capabilities: z.array(z.string()),
  maxTasks: z.number().int(),
  workspaceIds: z.array(z.string()),
  lastSeenAt: Timestamp,
  online: z.boolean(),
  /** Whether it runs tasks' tools in its sandbox, as its last claim said; null when it did not say. */
  sandboxed: z.boolean().nullable(),
  /** Live workers it holds (in `GET /api/agents`; the feed's agent events leave it out). */
  runningTasks: z.number().int().optional(),
});
export type Agent = z.infer<typeof Agent>;

import type {
  Account,
  AccountLevel,
  AccountType,
  Agent,
  ApiKey,
  AuthType,
  Question,
  RunnerPreference,
  Task,
  TaskPullRequest,
  TaskResult,
  TaskStatus,
  Worker,
  WorkerEvent,
  WorkerStatus,
  Workspace,
  WorkspaceAccess,
  WorkspaceConfig,
} from '@buildd/protocol';

// Rows as the database returns them (snake_case), and their mapping to the protocol's camelCase objects.
type Ts = Date | string;
const iso = (v: Ts): string => (v instanceof Date ? v.toISOString() : new Date(v).toISOString());
const isoOrNull = (v: Ts | null): string | null => (v === null ? null : iso(v));

export interface AccountRow {
  id: string;
  name: string;
  type: AccountType;
  level: AccountLevel;
  max_concurrent_workers: number;
  max_concurrent_sessions: number;
  max_cost_per_day_usd: number | null;
  created_at: Ts;
}

export const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  name: r.name,
  type: r.type,
  level: r.level,
  maxConcurrentWorkers: r.max_concurrent_workers,
  maxConcurrentSessions: r.max_concurrent_sessions,
  maxCostPerDayUsd: r.max_cost_per_day_usd,
  createdAt: iso(r.created_at),
});

export interface ApiKeyRow {
  id: string;
  account_id: string;
  name: string | null;
  prefix: string;
  created_at: Ts;
  last_used_at: Ts | null;
  revoked_at: Ts | null;
}

export const toApiKey = (r: ApiKeyRow): ApiKey => ({
  id: r.id,
  accountId: r.account_id,
  name: r.name,
  prefix: r.prefix,
  createdAt: iso(r.created_at),
  lastUsedAt: isoOrNull(r.last_used_at),
  revokedAt: isoOrNull(r.revoked_at),
});

export interface WorkspaceRow {
  id: string;
  name: string;
  repo_url: string | null;
  default_branch: string;
  access: WorkspaceAccess;
  max_running_tasks: number | null;
  config: WorkspaceConfig;
  /** The workspace's GitHub token, encrypted (src/secrets/); never leaves the server. */
  github_token_sealed?: string | null;
  created_at: Ts;
}

export const toWorkspace = (r: WorkspaceRow): Workspace => ({
  id: r.id,
  name: r.name,
  repoUrl: r.repo_url,
  defaultBranch: r.default_branch,
  access: r.access,
  maxRunningTasks: r.max_running_tasks,
  config: r.config ?? {},
  hasGithubToken: r.github_token_sealed != null,
  createdAt: iso(r.created_at),
});

export interface TaskRow {
  id: string;
  seq: number;
  workspace_id: string;
  title: string;
  prompt: string;
  priority: number;
  status: TaskStatus;
  runner_preference: RunnerPreference;
  required_capabilities: string[];
  depends_on: string[];
  max_attempts: number;
  attempts: number;
  budget_usd: number | null;
  max_turns: number | null;
  model: string | null;
  result: TaskResult | null;
  /** As queue/pull-requests.ts writes it (updatedAt in PostgreSQL's JSON timestamp form). */
  pull_request?: TaskPullRequest | null;
  question?: Question | null;
  error: string | null;
  exit_cause: string | null;
  cost_usd?: number | null;
  created_by: string;
  cancelled_by?: string | null;
  cancelled_at?: Ts | null;
  retried_by?: string | null;
  retried_at?: Ts | null;
  created_at: Ts;
  updated_at: Ts;
  started_at: Ts | null;
  finished_at: Ts | null;
}

export const toTask = (r: TaskRow): Task => ({
  id: r.id,
  workspaceId: r.workspace_id,
  title: r.title,
  prompt: r.prompt,
  description: r.prompt,
  priority: r.priority,
  status: r.status,
  runnerPreference: r.runner_preference,
  requiredCapabilities: r.required_capabilities,
  dependsOn: r.depends_on,
  maxAttempts: r.max_attempts,
  attempts: r.attempts,
  budgetUsd: r.budget_usd,
  maxTurns: r.max_turns,
  model: r.model,
  result: r.result,
  pullRequest: r.pull_request ? { ...r.pull_request, updatedAt: iso(r.pull_request.updatedAt) } : null,
  question: r.question ?? null,
  error: r.error,
  exitCause: r.exit_cause,
  costUsd: r.cost_usd ?? 0,
  createdBy: r.created_by,
  cancelledBy: r.cancelled_by ?? null,
  cancelledAt: isoOrNull(r.cancelled_at ?? null),
  retriedBy: r.retried_by ?? null,
  retriedAt: isoOrNull(r.retried_at ?? null),
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  startedAt: isoOrNull(r.started_at),
  finishedAt: isoOrNull(r.finished_at),
});

/** Task columns plus the summed cost of its workers, for reads that show a task. */
export const taskColumns = `t.*, (SELECT COALESCE(sum(cost_usd), 0) FROM workers cw WHERE cw.task_id = t.id) AS cost_usd`;

export interface WorkerRow {
  id: string;
  task_id: string;
  account_id: string;
  agent_id: string;
  workspace_id: string;
  status: WorkerStatus;
  auth_type: AuthType | null;
  branch: string;
  lease_expires_at: Ts;
  current_action: string | null;
  turns: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cost_usd: number;
  summary: string | null;
  error: string | null;
  exit_cause: string | null;
  commit_sha: string | null;
  files_changed: number | null;
  lines_added: number | null;
  lines_removed: number | null;
  pr_url: string | null;
  sandboxed: boolean | null;
  last_event_seq: number;
  created_at: Ts;
  started_at: Ts | null;
  finished_at: Ts | null;
}

export const toWorker = (r: WorkerRow): Worker => ({
  id: r.id,
  taskId: r.task_id,
  accountId: r.account_id,
  agentId: r.agent_id,
  status: r.status,
  authType: r.auth_type,
  branch: r.branch,
  leaseExpiresAt: iso(r.lease_expires_at),
  currentAction: r.current_action,
  turns: r.turns,
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  cacheReadTokens: r.cache_read_tokens,
  costUsd: r.cost_usd,
  summary: r.summary,
  error: r.error,
  exitCause: r.exit_cause,
  commitSha: r.commit_sha,
  filesChanged: r.files_changed,
  linesAdded: r.lines_added,
  linesRemoved: r.lines_removed,
  prUrl: r.pr_url,
  sandboxed: r.sandboxed,
  lastEventSeq: r.last_event_seq,
  createdAt: iso(r.created_at),
  startedAt: isoOrNull(r.started_at),
  finishedAt: isoOrNull(r.finished_at),
});

export interface WorkerEventRow {
  id: number;
  worker_id: string;
  seq: number;
  type: WorkerEvent['type'];
  at: Ts;
  data: Record<string, unknown>;
}

export const toWorkerEvent = (r: WorkerEventRow): WorkerEvent => ({
  id: r.id,
  workerId: r.worker_id,
  seq: r.seq,
  type: r.type,
  at: iso(r.at),
  data: r.data,
});

export interface AgentRow {
  id: string;
  account_id: string;
  name: string;
  host: string | null;
  version: string | null;
  capabilities: string[];
  max_tasks: number;
  workspace_ids: string[];
  last_seen_at: Ts;
  online: boolean;
  sandboxed: boolean | null;
  /** Only in `listAgents`' answer. */
  running_tasks?: number;
}

export const toAgent = (r: AgentRow): Agent => ({
  id: r.id,
  accountId: r.account_id,
  name: r.name,
  host: r.host,
  version: r.version,
  capabilities: r.capabilities,
  maxTasks: r.max_tasks,
  workspaceIds: r.workspace_ids,
  lastSeenAt: iso(r.last_seen_at),
  online: r.online,
  sandboxed: r.sandboxed ?? null,
  ...(r.running_tasks !== undefined ? { runningTasks: r.running_tasks } : {}),
});

/**
 * The protocol's types, plus the fields and shapes of DESIGN §3 that other parts of buildd are adding (a
 * task's question, webhooks, artifacts, usage, an agent's sandbox). Optional here, so the pages work
 * with a server that has them and with one that does not yet.
 */
import type {
  Account,
  Agent,
  ApiKey,
  Task,
  TaskStatus,
  TaskWithWorkers,
  Webhook,
  WebhookDelivery,
  Worker,
  WorkerEvent,
  Workspace,
  WorkspaceConfig,
  WorkspaceMember,
} from '@buildd/protocol';

export type { Account, ApiKey, TaskStatus, Webhook, WebhookDelivery, Worker, WorkerEvent, WorkspaceMember };

/** One account's cost and tokens on one UTC day (`GET /api/usage`), with the account's name and cap. */
export interface UsageEntry {
  accountId: string;
  accountName?: string;
  maxCostPerDayUsd?: number | null;
  day: string;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Question {
  id: string;
  text: string;
  options?: string[] | null;
  askedAt: string;
}

/** `waiting_input` is the state a run enters when it asks a person. */
export type TaskState = TaskStatus | 'waiting_input';

export type TaskView = Omit<Task, 'status'> & { status: TaskState; question?: Question | null };
export type TaskDetail = Omit<TaskWithWorkers, 'status'> & {
  status: TaskState;
  question?: Question | null;
};

export type AgentView = Agent;

/** Workspace defaults, with the run settings being added (network allowed to runs, GitHub repository). */
export type WorkspaceSettings = WorkspaceConfig & {
  allowedDomains?: string[];
  githubRepo?: string;
};
export type WorkspaceView = Omit<Workspace, 'config'> & { config: WorkspaceSettings };

export interface Artifact {
  sha256: string;
  name: string;
  contentType?: string;
  size?: number;
  createdAt?: string;
}

export interface Me {
  account: Account;
  keyPrefix?: string;
}

export const taskStates: readonly TaskState[] = [
  'pending',
  'assigned',
  'running',
  'waiting_input',
  'completed',
  'failed',
  'cancelled',
];
export const finalStates: readonly TaskState[] = ['completed', 'failed', 'cancelled'];
export const webhookEventTypes = ['task.completed', 'task.failed', 'task.cancelled', 'task.waiting_input'];

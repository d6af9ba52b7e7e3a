import { z } from 'zod';
import { AuthType, ExitCause, Id, limits, WorkerStatus } from './common.ts';
import { Task, Worker, Workspace } from './entities.ts';
import { Resume } from './questions.ts';
import { Capability } from './requests.ts';

/** Why a claim handed out nothing. */
export const ClaimReason = z.enum([
  'no_pending_tasks',
  'capability_mismatch',
  'no_workspaces',
  'dependencies_pending',
  'runner_mismatch',
  'workspace_full',
]);
export type ClaimReason = z.infer<typeof ClaimReason>;

export const ClaimBody = z.object({
  maxTasks: z.number().int().min(1).max(100).default(1),
  workspaceIds: z.array(Id).max(100).optional(),
  /** Older agents send one workspace. */
  workspaceId: Id.optional(),
  capabilities: z.array(Capability).max(200).default([]),
  /** Which Claude credential the agent runs with. Older agents send none: then no OAuth seat is counted. */
  authType: AuthType.optional(),
  /**
   * The agent's stable id. Older agents send none: they get the legacy lease, long enough for a slow step
   * between their progress PATCHes, and each of their workers an identity of its own.
   */
  agentId: z.string().min(1).max(200).optional(),
  /** Informational, sent by older agents. */
  runner: z.string().max(200).optional(),
  agentName: z.string().max(200).optional(),
  host: z.string().max(200).optional(),
  version: z.string().max(100).optional(),
  waitSeconds: z.number().min(0).max(30).optional(),
  /** Ask for no task in this list (tasks the agent has just failed). */
  excludeTaskIds: z.array(Id).max(1000).optional(),
  /** Whether the agent runs tasks' tools in its sandbox (`--no-sandbox` says false). */
  sandboxed: z.boolean().optional(),
});
export type ClaimBody = z.input<typeof ClaimBody>;

export const ClaimedWorker = z.object({
  id: Id,
  taskId: Id,
  task: Task,
  workspace: Workspace,
  branch: z.string(),
  leaseExpiresAt: z.string(),
  leaseSeconds: z.number(),
  renewSeconds: z.number(),
  /** Set when this attempt continues an earlier conversation (an answer after parking, a follow-up). */
  resume: Resume.optional(),
});
export type ClaimedWorker = z.infer<typeof ClaimedWorker>;

export const ClaimResponse = z.object({
  workers: z.array(ClaimedWorker),
  diagnostics: z.object({ reason: ClaimReason, message: z.string() }).optional(),
});
export type ClaimResponse = z.infer<typeof ClaimResponse>;

const Count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Text = z.string().max(limits.text);

/**
 * What an agent reports about its worker in a PATCH, beside the status. Each field is the worker column of
 * the same name in snake_case (`commitSha` → `commit_sha`); the server builds its SQL argument from this
 * list, so a new field is added here, in the `Worker` entity, in the migration and in one line of
 * `buildd_update_worker` (packages/server/src/queue/update-worker.sql).
 */
export const workerReport = {
  currentAction: z.string().max(1000).nullable(),
  // Totals: cumulative, so the server keeps the largest value it has seen.
  turns: Count,
  inputTokens: Count,
  outputTokens: Count,
  cacheReadTokens: Count,
  costUsd: z.number().nonnegative().max(1_000_000),
  // Results: the latest value given wins.
  summary: Text.nullable(),
  error: Text.nullable(),
  exitCause: ExitCause,
  branch: z.string().max(200),
  commitSha: z.string().max(100).nullable(),
  filesChanged: Count.nullable(),
  linesAdded: Count.nullable(),
  linesRemoved: Count.nullable(),
  prUrl: z.string().max(limits.url).nullable(),
  /** Whether the agent runs this worker's tools in its sandbox (sent with the first PATCH). */
  sandboxed: z.boolean().nullable(),
};
export type WorkerReportField = keyof typeof workerReport;
export const workerReportFields = Object.keys(workerReport) as WorkerReportField[];

export const PatchWorkerBody = z.object({
  status: z.union([WorkerStatus, z.literal('error')]).optional(),
  ...z.object(workerReport).partial().shape,
  /** Older agents send the summary as `result`. */
  result: Text.nullable().optional(),
  /** Sent by older agents; ignored. */
  progress: z.number().optional(),
});
export type PatchWorkerBody = z.infer<typeof PatchWorkerBody>;

export const AbortReason = z.enum(['cancelled', 'cost_limit', 'lease_lost', 'finished']);
export type AbortReason = z.infer<typeof AbortReason>;

export const PatchWorkerResponse = z.union([
  z.object({ worker: Worker, abort: z.literal(false) }),
  z.object({ abort: z.literal(true), reason: AbortReason, worker: Worker.optional() }),
]);
export type PatchWorkerResponse = z.infer<typeof PatchWorkerResponse>;

export const eventTypes = [
  'assistant_text',
  'tool_use',
  'tool_result',
  'status',
  'usage',
  'git',
  'log',
  'error',
] as const;
export const EventType = z.enum(eventTypes);

export const WorkerEventInput = z.object({
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  type: EventType,
  at: z.iso.datetime({ offset: true }),
  data: z.record(z.string(), z.unknown()).default({}),
});
export type WorkerEventInput = z.input<typeof WorkerEventInput>;

export const PostEventsBody = z.object({
  events: z.array(WorkerEventInput).min(1).max(limits.eventsPerBatch),
});
export type PostEventsBody = z.input<typeof PostEventsBody>;

export const PostEventsResponse = z.object({ stored: z.number().int(), lastSeq: z.number().int() });

export const WorkerEvent = z.object({
  workerId: Id,
  seq: z.number().int(),
  type: EventType,
  at: z.string(),
  data: z.record(z.string(), z.unknown()),
  /** Position in the task's event stream, usable as `after=` / `Last-Event-ID`. */
  id: z.number().int(),
});
export type WorkerEvent = z.infer<typeof WorkerEvent>;

export const EventsPage = z.object({ items: z.array(WorkerEvent), nextCursor: z.string().nullable() });

/**
 * Messages the server pushes on the agent channel (WebSocket `GET /api/agents/channel`, Bearer auth).
 * A hint is only a hint: the claim request decides, and agents keep polling as the safety net.
 */
export const AgentChannelMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), agentId: z.string().optional() }),
  z.object({ type: z.literal('tasks_available') }),
  z.object({ type: z.literal('cancel'), workerId: Id, reason: AbortReason }),
  // Input for a live worker's session, pushed to its holder; the HTTP poll is the fallback.
  z.object({ type: z.literal('message'), workerId: Id, id: Id, text: z.string() }),
  z.object({ type: z.literal('answer'), workerId: Id, questionId: Id, text: z.string() }),
]);
export type AgentChannelMessage = z.infer<typeof AgentChannelMessage>;

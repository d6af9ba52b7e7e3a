import { z } from 'zod';

/** Limits on strings so a client cannot store megabytes in a title. */
export const limits = {
  name: 200,
  title: 500,
  prompt: 100_000,
  text: 20_000,
  capability: 100,
  url: 2_000,
  /** Largest request body the server accepts, in bytes. */
  bodyBytes: 1_000_000,
  eventsPerBatch: 500,
} as const;

export const Id = z.string().min(1).max(100);
export const Name = z.string().trim().min(1).max(limits.name);
export const Timestamp = z.string();

export const accountTypes = ['user', 'service', 'action'] as const;
export const AccountType = z.enum(accountTypes);
export type AccountType = z.infer<typeof AccountType>;

export const AccountLevel = z.enum(['admin', 'member']);
export type AccountLevel = z.infer<typeof AccountLevel>;

export const AuthType = z.enum(['oauth', 'api']);
export type AuthType = z.infer<typeof AuthType>;

export const RunnerPreference = z.enum(['any', 'user', 'service', 'action']);
export type RunnerPreference = z.infer<typeof RunnerPreference>;

export const taskStatuses = ['pending', 'assigned', 'running', 'completed', 'failed', 'cancelled'] as const;
export const TaskStatus = z.enum(taskStatuses);
export type TaskStatus = z.infer<typeof TaskStatus>;

/** The statuses a task ends in, and those an agent may end its worker in: one set for both. */
export const finalStatuses = ['completed', 'failed', 'cancelled'] as const satisfies readonly TaskStatus[];
export type FinalStatus = (typeof finalStatuses)[number];
export const isFinalStatus = (status: string | undefined): status is FinalStatus =>
  (finalStatuses as readonly (string | undefined)[]).includes(status);

export const workerStatuses = ['claimed', 'running', 'completed', 'failed', 'cancelled', 'lost'] as const;
/** Statuses of a worker that holds its task (and a slot of its account). */
export const liveWorkerStatuses = ['claimed', 'running'] as const;
export const WorkerStatus = z.enum(workerStatuses);
export type WorkerStatus = z.infer<typeof WorkerStatus>;

/** Why a run ended, as the agent reports it (and `lost` / `cancelled` as the server sets it). */
export const exitCauses = [
  'completed',
  'auth',
  'max_turns',
  'budget',
  'timeout',
  'cancelled',
  'git',
  'sdk',
  'api_error',
  'shutdown',
  'lost',
  'cost_limit',
  'aborted',
  'error',
] as const;
export const ExitCause = z.enum(exitCauses);
export type ExitCause = z.infer<typeof ExitCause>;

/** A page of a list: `nextCursor` is null on the last page. */
export function page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

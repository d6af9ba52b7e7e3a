import { TaskResult } from '@buildd/protocol';

/**
 * Exit causes after which the same task is worth another attempt (by another agent, after a backoff):
 * the run was given back or broke for reasons outside the task. A task that ran out of turns or budget, or
 * was cancelled, fails for good until someone retries it by hand.
 */
const retryableCauses = [
  'shutdown',
  'cost_limit',
  'auth',
  'sdk',
  'git',
  'api_error',
  'timeout',
  'error',
  'aborted',
  'lost',
];

/** Backoff before the next attempt grows 5 s, 10 s, 20 s … up to this. */
export const maxBackoffSeconds = 300;

/** How long the agent that just failed a task is kept from claiming it again. */
export const cooldownSeconds = 600;

/** The worker column of a protocol field: `commitSha` → `commit_sha`. */
export const columnOf = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * How a worker's final report moves its task, handed to `buildd_finish_task` (update-worker.sql), which
 * applies it in the PATCH's own statement: completed (the task's result is the worker's columns named by
 * the protocol's TaskResult), cancelled, failed (another attempt after a backoff when the cause is worth
 * one), or parked (the run gave its slot back while waiting for an answer).
 */
export const finishPolicy = JSON.stringify({
  resultColumns: Object.fromEntries(Object.keys(TaskResult.shape).map((f) => [f, columnOf(f)])),
  retryableCauses,
  maxBackoffSeconds,
  cooldownSeconds,
});

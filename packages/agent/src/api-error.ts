/**
 * How the agent must react to a failed call:
 * - `transient`: network error, timeout, 5xx — retry with backoff;
 * - `conflict`: 409, the worker is no longer live — stop that run at once;
 * - `not_found`: 404 — the resource is gone (a spool for it can be dropped);
 * - `limit`: 429 — wait `retryAfterSeconds`;
 * - `fatal`: 401/403 — the key is wrong or lacks rights, retrying will not help;
 * - `rejected`: another 4xx — this request is bad, retrying it will not help;
 * - `protocol`: the server answered something the protocol does not describe.
 */
export type ApiErrorKind =
  | 'transient'
  | 'conflict'
  | 'not_found'
  | 'limit'
  | 'fatal'
  | 'rejected'
  | 'protocol';

/** A failed call to the buildd server, classified by what the agent must do about it. */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly status?: number,
    /** The server's error code (`cost_limit`, `worker_not_live`, …) when it sent one. */
    readonly code?: string,
    /** For `limit`: seconds until the limit resets. */
    readonly retryAfterSeconds?: number,
    /** For `limit`: when the limit resets, as the server said. */
    readonly resetsAt?: string,
  ) {
    super(message);
  }
}

/** The kind of error an HTTP status maps to. */
export function kindOfStatus(status: number): ApiErrorKind {
  if (status >= 500) return 'transient';
  if (status === 409) return 'conflict';
  if (status === 404) return 'not_found';
  if (status === 429) return 'limit';
  if (status === 401 || status === 403) return 'fatal';
  // 408 (request timeout) is the server telling us to try again.
  if (status === 408) return 'transient';
  return 'rejected';
}

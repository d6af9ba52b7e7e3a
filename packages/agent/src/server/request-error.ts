/**
 * How the agent must react to a failed request to the buildd server:
 * - `transient`: network error, timeout, 5xx — retry with backoff;
 * - `conflict`: 409, the worker is no longer live — stop that run at once;
 * - `not_found`: 404 — the resource is gone (a spool for it can be dropped);
 * - `limit`: 429 — wait `retryAfterSeconds`;
 * - `fatal`: 401/403 — the key is wrong or lacks rights, retrying will not help;
 * - `rejected`: another 4xx — this request is bad, retrying it will not help;
 * - `protocol`: the server answered something the protocol does not describe.
 */
export type RequestFailure =
  | 'transient'
  | 'conflict'
  | 'not_found'
  | 'limit'
  | 'fatal'
  | 'rejected'
  | 'protocol';

/** What a `ServerRequestError` carries. */
export interface ServerRequestErrorOptions {
  failure: RequestFailure;
  message: string;
  /** The HTTP status, when the server answered. */
  status?: number | undefined;
  /** The server's error code (`cost_limit`, `worker_not_live`, …) when it sent one. */
  code?: string | undefined;
  /** For `limit`: seconds until the limit resets. */
  retryAfterSeconds?: number | undefined;
  /** For `limit`: when the limit resets, as the server said. */
  resetsAt?: string | undefined;
}

/** A request to the buildd server that failed, classified by what the agent must do about it. */
export class ServerRequestError extends Error {
  override readonly name = 'ServerRequestError';
  readonly failure: RequestFailure;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly resetsAt: string | undefined;

  constructor(options: ServerRequestErrorOptions) {
    super(options.message);
    this.failure = options.failure;
    this.status = options.status;
    this.code = options.code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.resetsAt = options.resetsAt;
  }
}

/** What a failed HTTP status means for the agent. */
export function failureOfStatus(status: number): RequestFailure {
  if (status >= 500) return 'transient';
  if (status === 409) return 'conflict';
  if (status === 404) return 'not_found';
  if (status === 429) return 'limit';
  if (status === 401 || status === 403) return 'fatal';
  // 408 (request timeout) is the server telling us to try again.
  if (status === 408) return 'transient';
  return 'rejected';
}

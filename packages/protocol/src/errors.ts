import { z } from 'zod';

/** Every error code the API can answer with; the HTTP status of each is fixed in `errorStatus`. */
export const errorCodes = [
  'bad_request',
  'invalid_json',
  'validation_failed',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'worker_not_live',
  'payload_too_large',
  'concurrency_limit',
  'session_limit',
  'cost_limit',
  'stream_limit',
  'rate_limited',
  'unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export const errorStatus: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  worker_not_live: 409,
  payload_too_large: 413,
  concurrency_limit: 429,
  session_limit: 429,
  cost_limit: 429,
  stream_limit: 429,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export const ErrorBody = z.object({
  error: z.object({
    code: z.enum(errorCodes),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Extra fields a 429 carries so a client knows which limit stopped it and when to come back. */
export const LimitDetails = z.object({
  limit: z.number(),
  current: z.number(),
  retryAfterSeconds: z.number().int().nonnegative(),
  resetsAt: z.string().optional(),
});
export type LimitDetails = z.infer<typeof LimitDetails>;

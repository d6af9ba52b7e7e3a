import { type ErrorBody, type ErrorCode, errorStatus } from '@buildd/protocol';

/** The one error type routes throw; the error handler turns it into the JSON error shape. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  get status(): number {
    return errorStatus[this.code];
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export const notFound = (what: string, id: string) =>
  new ApiError('not_found', `No ${what} with id "${id}".`);

/** PostgreSQL error codes that mean "try the same thing again". */
const transientCodes = new Set(['40001', '40P01', '57P01', '08006', '08003', '08000', '57P03']);

/** Whether a database error is worth retrying (serialization failure, deadlock, dropped connection). */
export function isTransientDbError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && transientCodes.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|ECONNREFUSED|ECONNRESET|terminating connection/i.test(message);
}

/** PostgreSQL errors that mean "a value in the request cannot be stored", with what to tell the client. */
const rejectedValueCodes: Record<string, string> = {
  '22003': 'A number in the request is too large to store.',
  '22021': 'The request holds text that cannot be stored (a NUL character or an invalid byte sequence).',
  '22P05': 'The request holds text that cannot be stored (a NUL character or an invalid escape).',
  '22007': 'A timestamp in the request cannot be stored.',
  '22008': 'A timestamp in the request is out of range.',
};

/**
 * Turns a database refusal of a request value (out-of-range number, NUL in text) into a 400, so that input
 * which passes the schemas but not the column types is still the client's error, never a 500.
 */
export function rejectedValueError(err: unknown): ApiError | undefined {
  const code = (err as { code?: unknown })?.code;
  const message = typeof code === 'string' ? rejectedValueCodes[code] : undefined;
  return message ? new ApiError('validation_failed', message) : undefined;
}

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

export const notFound = (what: string, id: string) => new ApiError('not_found', `No ${what} with id "${id}".`);
export const forbidden = (message: string) => new ApiError('forbidden', message);

/** PostgreSQL error codes that mean "try the same thing again". */
const transientCodes = new Set(['40001', '40P01', '57P01', '08006', '08003', '08000', '57P03']);

/** Whether a database error is worth retrying (serialization failure, deadlock, dropped connection). */
export function isTransientDbError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && transientCodes.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|ECONNREFUSED|ECONNRESET|terminating connection/i.test(message);
}

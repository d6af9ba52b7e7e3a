export * from './common.ts';
export * from './entities.ts';
export * from './errors.ts';
export * from './requests.ts';
export * from './usage.ts';
export * from './workers.ts';

/** The HTTP API version this package describes. */
export const protocolVersion = '1';

/** Response header in which the server names its API version, so clients can refuse a mismatch. */
export const apiVersionHeader = 'buildd-api-version';

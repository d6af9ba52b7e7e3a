export * from './common.ts';
export * from './entities.ts';
export * from './errors.ts';
export * from './requests.ts';
export * from './webhooks.ts';
export * from './workers.ts';

/** The HTTP API version this package describes. */
export const protocolVersion = '1';

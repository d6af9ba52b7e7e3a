export * from './artifacts.ts';
export * from './common.ts';
export * from './entities.ts';
export * from './errors.ts';
export * from './questions.ts';
export * from './requests.ts';
export * from './workers.ts';

/** The HTTP API version this package describes. */
export const protocolVersion = '1';

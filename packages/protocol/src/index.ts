export * from './common.ts';
export * from './entities.ts';
export * from './errors.ts';
export * from './requests.ts';
export * from './session.ts';
export * from './usage.ts';
export * from './version.ts';
export * from './workers.ts';

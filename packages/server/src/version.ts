import pkg from '../package.json' with { type: 'json' };

/** This buildd-server's version (`buildd-server --version`). */
export const serverVersion: string = pkg.version;

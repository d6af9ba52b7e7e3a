import pkg from '../package.json' with { type: 'json' };

/** The agent's version, reported to the server on every claim. */
export const agentVersion: string = pkg.version;

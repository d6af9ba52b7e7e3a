// No zod here: clients that only need these (the buildd CLI's start-up) import `@buildd/protocol/version`.

/** The HTTP API version this package describes. */
export const protocolVersion = '1';

/** Response header in which the server names its API version, so clients can refuse a mismatch. */
export const apiVersionHeader = 'buildd-api-version';

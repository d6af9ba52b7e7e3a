/** A problem with the embedded PostgreSQL that the operator must fix; main prints the message and exits. */
export class EmbeddedError extends Error {}

import { isTransientDbError } from '../errors.ts';

/**
 * Runs `fn` again when the database answers with a transient error (deadlock, serialization failure,
 * a connection dropped under us), with jittered backoff; anything else is thrown at once.
 */
export async function retryTransient<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isTransientDbError(err)) throw err;
      await new Promise((r) => setTimeout(r, 20 * 2 ** i * (0.5 + Math.random())));
    }
  }
}

import { limits } from '@buildd/protocol';
import type { Context } from 'hono';
import type { z } from 'zod';
import { ApiError } from '../errors.ts';
import { nodeRequest } from './node-request.ts';

export function bodyTooLarge(): ApiError {
  return new ApiError('payload_too_large', `The request body is larger than ${limits.bodyBytes} bytes.`);
}

/**
 * The body as text, at most `limits.bodyBytes`, counted as it arrives (a chunked body declares no length).
 * Under Node it is read straight from the socket (node-request.ts); in process, hono's bodyLimit middleware
 * (app.ts) bounds it.
 */
async function readText(c: Context): Promise<string> {
  const incoming = nodeRequest(c);
  if (!incoming) return c.req.text();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of incoming as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limits.bodyBytes) throw bodyTooLarge();
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // The client went away mid-body: a 400 nobody reads, not an "unhandled error" in the log.
    throw new ApiError('bad_request', 'The request body did not arrive whole.');
  }
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}

/** Turns zod issues into a short sentence and a list of `{ path, message }` for clients. */
export function describeIssues(error: z.ZodError): { message: string; details: unknown } {
  const issues = error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
  const first = issues[0];
  const more =
    issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return {
    message: first ? `Invalid ${first.path}: ${first.message}${more}.` : 'Invalid request.',
    details: issues,
  };
}

/** Parses a value with a schema or throws a 400 that says which field is wrong. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const { message, details } = describeIssues(parsed.error);
    throw new ApiError('validation_failed', message, details);
  }
  return parsed.data;
}

/** Reads and validates a JSON body: malformed JSON and wrong shapes both answer 400. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = await readText(c);
  let value: unknown;
  try {
    value = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json', 'The request body is not valid JSON.');
  }
  const depth = nestingDepth(value, maxNesting);
  if (depth > maxNesting) {
    throw new ApiError(
      'validation_failed',
      `The request body is nested more than ${maxNesting} levels deep; flatten it (event data is meant to be a small object).`,
    );
  }
  return parseWith(schema, value);
}

/** How deep a JSON body may nest: far more than any event needs, far less than PostgreSQL's jsonb limit. */
export const maxNesting = 64;

/** The nesting depth of a parsed JSON value, counted without recursion and stopping past `limit`. */
function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > deepest) deepest = depth + 1;
    if (deepest > limit) return deepest;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Validates the query string. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return parseWith(schema, c.req.query());
}

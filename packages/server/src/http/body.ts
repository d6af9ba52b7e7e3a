import type { Context } from 'hono';
import type { z } from 'zod';
import { ApiError } from '../errors.ts';

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
  const text = await c.req.text();
  let value: unknown;
  try {
    value = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json', 'The request body is not valid JSON.');
  }
  return parseWith(schema, value);
}

/** Validates the query string. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return parseWith(schema, c.req.query());
}

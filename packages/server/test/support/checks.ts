import { expect } from 'vitest';
import type { Queryable } from '../../src/db/types.ts';

/** Tables of the schema, each with the columns that change on their own (last-seen stamps) left out. */
const tables: { name: string; skip: string[] }[] = [
  { name: 'accounts', skip: [] },
  { name: 'api_keys', skip: ['last_used_at'] },
  { name: 'workspaces', skip: [] },
  { name: 'account_workspaces', skip: [] },
  { name: 'tasks', skip: [] },
  { name: 'workers', skip: [] },
  { name: 'worker_events', skip: [] },
  { name: 'agents', skip: ['last_seen_at'] },
  { name: 'usage_days', skip: [] },
  { name: 'artifact_blobs', skip: [] },
  { name: 'task_artifacts', skip: [] },
];

/**
 * Every row of every table as one string: two snapshots are equal exactly when a request changed
 * nothing that a user could see (the stamps that a mere authenticated read refreshes are left out).
 */
export async function dbSnapshot(db: Queryable): Promise<string> {
  const out: Record<string, unknown[]> = {};
  for (const t of tables) {
    const rows = await db.query<Record<string, unknown>>(`SELECT * FROM ${t.name} ORDER BY 1, 2`);
    out[t.name] = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !t.skip.includes(k))));
  }
  return JSON.stringify(out);
}

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

/**
 * Asserts the API's JSON error shape `{ error: { code, message, details? } }` with this status and code,
 * and that no stack trace or internals leak into it.
 */
export function expectApiError(res: Answer, status: number, code: string): void {
  expect(res.status, `answer: ${JSON.stringify(res.body)?.slice(0, 500)}`).toBe(status);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  expect(res.body).toBeTypeOf('object');
  const error = (res.body as { error: { code: unknown; message: string } }).error;
  expect(error, `answer: ${JSON.stringify(res.body)?.slice(0, 500)}`).toBeTypeOf('object');
  expect(error.code).toBe(code);
  expect(error.message).toBeTypeOf('string');
  expect(error.message.length).toBeGreaterThan(0);
  expect(Object.keys(error).filter((k) => !['code', 'message', 'details'].includes(k))).toEqual([]);
  expect(JSON.stringify(res.body)).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
}

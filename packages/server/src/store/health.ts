import type { Queryable } from '../db/index.ts';

/** The newest migration this database has applied (0 for an empty one). */
export async function readSchemaVersion(db: Queryable): Promise<number> {
  const rows = await db.query<{ version: number }>(
    'SELECT COALESCE(max(version), 0)::integer AS version FROM schema_migrations',
  );
  return rows[0]?.version ?? 0;
}

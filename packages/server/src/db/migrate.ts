import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './types.ts';

const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url));
const functionsDir = fileURLToPath(new URL('../queue/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Reads the numbered `migrations/NNN_name.sql` files in order. */
export async function loadMigrations(dir = migrationsDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: Number.parseInt(file, 10),
      name: file.replace(/\.sql$/, ''),
      sql: await readFile(`${dir}${file}`, 'utf8'),
    })),
  );
}

/**
 * The current definitions of the server's SQL functions, `src/queue/*.sql` in name order: one readable file
 * per operation beside the TypeScript that calls it, re-applied on every start (CREATE OR REPLACE).
 */
export async function loadFunctions(dir = functionsDir): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(files.map((file) => readFile(`${dir}${file}`, 'utf8')));
}

export class SchemaTooNewError extends Error {}

/**
 * Applies every migration the database has not seen, then the current SQL functions, all in one
 * transaction under an advisory lock so that replicas starting together do not race. Refuses a database
 * migrated by newer code.
 */
export async function migrate(
  db: Db,
  migrations?: Migration[],
): Promise<{ applied: string[]; version: number }> {
  const all = migrations ?? (await loadMigrations());
  const functions = await loadFunctions();
  const known = all.at(-1)?.version ?? 0;
  await db.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
     applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  const applied: string[] = [];
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(8675309)');
    const rows = await tx.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    const done = new Set(rows.map((r) => r.version));
    const newest = rows.at(-1)?.version ?? 0;
    if (newest > known) {
      throw new SchemaTooNewError(
        `The database schema is at version ${newest}, but this buildd-server only knows up to version ${known}. ` +
          'Upgrade buildd-server (or point it at another database); it will not run against a newer schema.',
      );
    }
    for (const m of all) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.name);
    }
    for (const sql of functions) await tx.exec(sql);
  });
  return { applied, version: known };
}

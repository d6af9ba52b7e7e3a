/**
 * Once per `vitest run`: starts one embedded PostgreSQL for the suite (a throw-away cluster, fsync off), and on
 * each engine makes a template database with every migration applied, so that each test file's databases are
 * quick copies. Teardown drops what the run made and stops the cluster.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded/cluster.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import { randomBase62 } from '../../src/ids.ts';
import { hasPostgres, postgresUrl } from './engines-reachable.ts';

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function dropRunDatabases(url: string, runId: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    const rows = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1 || '%'`,
      [runId],
    );
    for (const { datname } of rows.rows) {
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(datname)} WITH (FORCE)`);
    }
  } finally {
    await client.end();
  }
}

export default async function setup(project: TestProject) {
  const runId = `buildd_t${randomBase62(6).toLowerCase()}`;
  const template = `${runId}_template`;
  const dir = await mkdtemp(join(tmpdir(), 'buildd-test-pg-'));
  await chmod(dir, 0o755); // as root, PostgreSQL runs as `postgres`, which must pass through it
  const cluster = await startEmbeddedPostgres({
    dataDir: join(dir, 'data'),
    // A throw-away cluster: durability buys the tests nothing. buildd's own default keeps fsync on.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
  });
  const urls: Record<string, string> = { embedded: cluster.url('postgres') };
  if (await hasPostgres()) urls.postgres = postgresUrl;
  else
    console.warn(
      `NOTICE: PostgreSQL at ${postgresUrl} is unreachable; the system PostgreSQL leg is skipped.`,
    );
  for (const url of Object.values(urls)) {
    await adminQuery(url, `CREATE DATABASE ${template}`);
    const db = openPostgres({ connectionString: withDatabase(url, template) });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
  }
  project.provide('engines', Object.keys(urls));
  project.provide('embeddedUrl', urls.embedded!);
  project.provide('runId', runId);
  project.provide('template', template);
  return async () => {
    for (const url of Object.values(urls)) await dropRunDatabases(url, runId).catch(() => {});
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

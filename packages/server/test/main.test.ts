import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, SchemaTooNewError } from '../src/db/index.ts';
import { loadMigrations } from '../src/db/migrate.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { newApiKey } from '../src/ids.ts';
import { freshDb, testEngines } from './support/engines.ts';
import { trackDataDir } from './support/leaks.ts';

const trackedDir = (dir: string) => {
  trackDataDir(dir);
  return dir;
};

const bin = fileURLToPath(new URL('../bin/buildd-server.mjs', import.meta.url));

/** Runs buildd-server until `until(stdout)` holds (then SIGTERM) or it exits; returns what it printed. */
function runServer(args: string[], env: Record<string, string>, until?: (out: string) => boolean) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    // Checked on output and every 100 ms: a condition may turn true between two chunks of output.
    let stopped = false;
    const check = () => {
      // One SIGTERM only: a second one makes the server exit at once, without stopping its PostgreSQL.
      if (!stopped && until?.(stdout)) {
        stopped = true;
        child.kill('SIGTERM');
      }
    };
    const poll = setInterval(check, 100);
    child.stdout.on('data', (d) => {
      stdout += d;
      check();
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ code, stdout, stderr });
    });
  });
}

const listening = (out: string) => out.includes('buildd-server listening') && out.includes('local agent');

// Each test starts the real server process (tsx, its own PostgreSQL): slow on a busy machine, hence the long
// timeouts.
describe('buildd-server process', { timeout: 150_000 }, () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'buildd-main-'));
    await chmod(home, 0o755); // as root, the embedded PostgreSQL runs as `postgres`, which must pass through
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('prints --help and exits 0; refuses an unknown flag with exit 2', async () => {
    const help = await runServer(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--database-url');
    expect(help.stdout).toContain('BUILDD_ADMIN_KEY');
    const bad = await runServer(['--bogus'], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Unknown option '--bogus'");
    const badPort = await runServer(['--port', 'abc'], {});
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be a whole number');
  });

  it('creates the admin once on first start, prints its key once and saves it with mode 0600', async () => {
    // A fresh machine: neither ~/.buildd nor the data dir exists yet, and nothing names them.
    const env = { HOME: home };
    trackDataDir(join(home, '.buildd', 'postgres'));
    const first = await runServer(
      ['--port', '0', '--no-local-agent'],
      env,
      (o) => o.includes('buildd-server listening') && o.includes('buildd_user_'),
    );
    const key = first.stdout.match(/buildd_user_[0-9A-Za-z]+/)?.[0];
    expect(key).toBeDefined();
    const saved = JSON.parse(await readFile(join(home, '.buildd', 'config.json'), 'utf8'));
    expect(saved.apiKey).toBe(key);
    expect(saved.server).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await stat(join(home, '.buildd', 'config.json'))).mode & 0o777).toBe(0o600);

    const second = await runServer(['--port', '0', '--no-local-agent'], env, (o) =>
      o.includes('buildd-server listening'),
    );
    expect(second.stdout).not.toMatch(/buildd_user_/);
  });

  it('uses BUILDD_ADMIN_KEY as the admin key and never prints it', async () => {
    const adminKey = newApiKey('user');
    const dir = await mkdtemp(join(tmpdir(), 'buildd-main-key-'));
    await chmod(dir, 0o755);
    const env = {
      HOME: dir,
      BUILDD_CONFIG_DIR: join(dir, '.buildd'),
      BUILDD_DATA_DIR: trackedDir(join(dir, 'data')),
      BUILDD_ADMIN_KEY: adminKey,
    };
    let url = '';
    let status = 0;
    const run = await runServer(['--port', '0'], env, (out) => {
      const m = out.match(/"url":"(http:[^"]+)"/);
      if (m && !url) {
        url = m[1]!;
        void fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${adminKey}` } }).then((r) => {
          status = r.status;
        });
      }
      return listening(out) && status !== 0;
    });
    // The answer may land just after the matcher ran; wait for it briefly.
    for (let i = 0; i < 50 && status === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(status).toBe(200);
    expect(run.stdout + run.stderr).not.toContain(adminKey);
    expect(run.stdout).toContain(adminKey.slice(0, 16));
    await rm(dir, { recursive: true, force: true });
  });
});

describe.each(await testEngines())('migrations on %s', (engine) => {
  it('refuses a database whose schema is newer than the code', async () => {
    const db = await freshDb(engine);
    try {
      await migrate(db);
      await db.query(`INSERT INTO schema_migrations (version, name) VALUES (999, '999_future')`);
      await expect(migrate(db)).rejects.toThrow(SchemaTooNewError);
      await expect(migrate(db)).rejects.toThrow(/version 999.*only knows up to version \d+/);
    } finally {
      await db.query('DELETE FROM schema_migrations WHERE version = 999');
      await db.close();
    }
  });

  it('applies every migration to an empty schema, and nothing twice', async () => {
    const db = await freshDb(engine);
    // The test databases are copies of a migrated template: an empty schema of their own starts from zero.
    await db.query('CREATE SCHEMA empty_start');
    const empty = openPostgres({ connectionString: db.url, schema: 'empty_start' });
    try {
      expect((await migrate(empty)).applied).toEqual((await loadMigrations()).map((m) => m.name));
      expect((await migrate(empty)).applied).toEqual([]);
      expect((await migrate(db)).applied).toEqual([]);
    } finally {
      await empty.close();
      await db.query('DROP SCHEMA empty_start CASCADE');
      await db.close();
    }
  });
});

/**
 * `buildd-server` as a process on its own PostgreSQL, the way `npm start` runs it: first start on an empty
 * HOME, restarts, `kill -9` (an orphaned postmaster), a second server on the same data dir, the PGlite data dir
 * of an earlier buildd, and a backup taken while tasks run, restored into a fresh data dir.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { newApiKey } from '../src/ids.ts';
import { type ApiClient, apiClient, makeAccount } from './support/api.ts';
import { postgresProcessesIn, trackDataDir } from './support/leaks.ts';

const bin = fileURLToPath(new URL('../bin/buildd-server.mjs', import.meta.url));

interface Running {
  child: ChildProcess;
  url: string;
  out(): string;
  exited: Promise<number | null>;
}

/** Starts the server with `env` (HOME decides everything else) and waits until it listens. */
async function start(
  env: Record<string, string>,
  args: string[] = [],
  ready = (out: string) => out.includes('buildd-server listening'),
): Promise<Running> {
  const child = spawn(process.execPath, [bin, '--port', '0', '--no-local-agent', ...args], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
  });
  let text = '';
  child.stdout!.on('data', (d) => {
    text += d;
  });
  child.stderr!.on('data', (d) => {
    text += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 1200; i++) {
    const url = text.match(/"url":"(http:[^"]+)"/)?.[1];
    if (url && ready(text)) return { child, url, out: () => text, exited };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`buildd-server did not start:\n${text}`);
}

/** Runs the server command to its end (a refusal, a backup, a restore). */
async function runToEnd(env: Record<string, string>, args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
  });
  let text = '';
  child.stdout.on('data', (d) => {
    text += d;
  });
  child.stderr.on('data', (d) => {
    text += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, text };
}

async function stop(server: Running, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  server.child.kill(signal);
  return server.exited;
}

async function newHome(prefix: string): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), prefix));
  await chmod(home, 0o755); // as root, PostgreSQL runs as `postgres`, which must pass through
  return home;
}

describe('buildd-server on its embedded PostgreSQL', { timeout: 300_000 }, () => {
  const homes: string[] = [];
  afterAll(async () => {
    for (const home of homes) await rm(home, { recursive: true, force: true });
  });

  it('starts on an empty HOME, keeps its data across restarts and kill -9, and leaves no postgres behind', async () => {
    const home = await newHome('buildd-embedded-');
    homes.push(home);
    const dataDir = join(home, '.buildd', 'postgres');
    trackDataDir(dataDir);
    const env = { HOME: home };

    // The key is printed once the server listens and has made the admin account.
    const first = await start(
      env,
      [],
      (out) => out.includes('listening') && out.includes('Saved with the server URL'),
    );
    const adminKey = first.out().match(/buildd_user_[0-9A-Za-z]+/)?.[0];
    expect(adminKey).toBeDefined();
    const config = join(home, '.buildd', 'config.json');
    expect(JSON.parse(await readFile(config, 'utf8')).apiKey).toBe(adminKey);
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'buildd-embedded.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'pgdata'))).mode & 0o777).toBe(0o700);
    // Loopback only: a socket inside the data dir, no TCP port.
    expect((await readdir(join(dataDir, 'pgdata'))).some((f) => f.startsWith('.s.PGSQL.'))).toBe(true);

    let admin = apiClient(first.url, adminKey);
    expect((await admin.get('/healthz')).body.engine).toBe('embedded');
    const ws = await admin.post('/api/workspaces', { name: 'kept' });
    const task = await admin.post('/api/tasks', { workspaceId: 'kept', title: 'Keep me', prompt: 'Stay.' });
    expect(task.status).toBe(201);
    const agent = await makeAccount(admin, first.url, { type: 'service' });
    const claim = await agent.api.post('/api/workers/claim', {
      maxTasks: 1,
      capabilities: [],
      authType: 'api',
      agentId: 'a1',
    });
    const workerId = claim.body.workers[0].id as string;
    expect((await agent.api.patch(`/api/workers/${workerId}`, { status: 'running', turns: 2 })).status).toBe(
      200,
    );
    const at = new Date().toISOString();
    await agent.api.post(`/api/workers/${workerId}/events`, {
      events: [1, 2, 3].map((seq) => ({ seq, type: 'log', at, data: { line: `line ${seq}` } })),
    });

    // SIGTERM: the server stops its PostgreSQL and lets go of the data dir.
    expect(await stop(first)).toBe(0);
    expect(postgresProcessesIn(dataDir)).toEqual([]);

    const second = await start(env);
    expect(second.out()).not.toMatch(/buildd_user_/);
    admin = apiClient(second.url, adminKey);
    expect((await admin.get(`/api/tasks/${task.body.id}`)).body.status).toBe('running');

    // kill -9: no shutdown at all, the postmaster is orphaned with its postmaster.pid.
    await stop(second, 'SIGKILL');
    expect(postgresProcessesIn(dataDir).length).toBeGreaterThan(0);

    const third = await start(env);
    admin = apiClient(third.url, adminKey);
    const kept = await admin.get(`/api/tasks/${task.body.id}`);
    expect(kept.status).toBe(200);
    expect(kept.body.workspaceId).toBe(ws.body.id);
    expect(kept.body.workers.map((w: { id: string }) => w.id)).toEqual([workerId]);
    expect(kept.body.workers[0].turns).toBe(2);
    const events = await admin.get(`/api/tasks/${task.body.id}/events`);
    expect(events.body.items.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3]);

    // A second server on the same data dir is refused; the first goes on serving.
    const rival = await runToEnd(env, ['--port', '0', '--no-local-agent']);
    expect(rival.code).toBe(3);
    expect(rival.text).toContain('Another buildd-server');
    expect((await admin.get('/api/me')).status).toBe(200);

    expect(await stop(third)).toBe(0);
    expect(postgresProcessesIn(dataDir)).toEqual([]);
  });

  it('refuses the PGlite data dir of an earlier buildd and leaves it as it was', async () => {
    const home = await newHome('buildd-pglite-era-');
    homes.push(home);
    const old = join(home, '.buildd', 'data');
    await mkdir(old, { recursive: true });
    await writeFile(join(old, 'PG_VERSION'), '17\n');
    await writeFile(join(old, 'tasks-live-here'), 'precious');
    const refused = await runToEnd({ HOME: home }, ['--port', '0', '--no-local-agent']);
    expect(refused.code).toBe(3);
    expect(refused.text).toContain('earlier buildd (PGlite)');
    expect(refused.text).toContain(`mv ${old} ${old}.pglite-old`);
    expect(refused.text).not.toMatch(/\n\s+at /); // a sentence, not a stack trace
    expect((await readdir(old)).sort()).toEqual(['PG_VERSION', 'tasks-live-here']);
    expect(await readFile(join(old, 'tasks-live-here'), 'utf8')).toBe('precious');
    await expect(stat(join(home, '.buildd', 'postgres'))).rejects.toThrow();

    // Pointed at it explicitly, it is refused the same way, and still untouched.
    const explicit = await runToEnd({ HOME: home }, ['--port', '0', '--no-local-agent', '--data-dir', old]);
    expect(explicit.code).toBe(3);
    expect(explicit.text).toContain('did not create');
    expect((await readdir(old)).sort()).toEqual(['PG_VERSION', 'tasks-live-here']);
  });

  it('backs up while tasks run; the backup restores into a fresh data dir with every task, worker and event', async () => {
    const home = await newHome('buildd-backup-');
    homes.push(home);
    const dataDir = join(home, 'live');
    const restored = join(home, 'restored');
    const backup = join(home, 'backup');
    trackDataDir(dataDir);
    trackDataDir(restored);
    const env = { HOME: home, BUILDD_DATA_DIR: dataDir, BUILDD_ADMIN_KEY: newApiKey('user') };
    const live = await start(env);
    const admin = apiClient(live.url, env.BUILDD_ADMIN_KEY);
    await admin.post('/api/workspaces', { name: 'busy' });
    const agent = await makeAccount(admin, live.url, { type: 'service', maxConcurrentWorkers: 50 });

    // Load: tasks created, claimed, run with events, completed, until told to stop. Everything acknowledged
    // before the backup started must be in it.
    const acked = { tasks: new Set<string>(), events: new Map<string, number>() };
    let running = true;
    const load = async (client: ApiClient, n: number) => {
      for (let i = 0; running; i++) {
        const t = await admin.post('/api/tasks', { workspaceId: 'busy', title: `t${n}-${i}`, prompt: 'go' });
        acked.tasks.add(t.body.id);
        const c = await client.post('/api/workers/claim', {
          maxTasks: 1,
          capabilities: [],
          authType: 'api',
          agentId: `load-${n}`,
        });
        for (const w of c.body.workers ?? []) {
          await client.patch(`/api/workers/${w.id}`, { status: 'running' });
          const at = new Date().toISOString();
          const r = await client.post(`/api/workers/${w.id}/events`, {
            events: [1, 2].map((seq) => ({ seq, type: 'log', at, data: { i } })),
          });
          if (r.status === 200) acked.events.set(w.taskId, 2);
          await client.patch(`/api/workers/${w.id}`, { status: 'completed', summary: 'done' });
        }
      }
    };
    const loaders = [load(agent.api, 1), load(agent.api, 2)];
    while (acked.events.size < 10) await new Promise((r) => setTimeout(r, 50));
    const before = { tasks: [...acked.tasks], events: new Map(acked.events) };
    const result = await runToEnd(env, ['backup', backup]);
    running = false;
    await Promise.all(loaders);
    expect(result.code, result.text).toBe(0);
    expect(result.text).toContain('online');
    expect(await stop(live)).toBe(0);

    const refused = await runToEnd({ ...env }, ['restore', backup, '--data-dir', dataDir]);
    expect(refused.code).toBe(3);
    expect(refused.text).toContain('not empty');
    const restore = await runToEnd(env, ['restore', backup, '--data-dir', restored]);
    expect(restore.code, restore.text).toBe(0);

    const again = await start({ ...env, BUILDD_DATA_DIR: restored });
    const check = apiClient(again.url, env.BUILDD_ADMIN_KEY);
    for (const id of before.tasks) {
      const t = await check.get(`/api/tasks/${id}`);
      expect(t.status, `task ${id}`).toBe(200);
      if (before.events.has(id)) {
        expect(t.body.workers).toHaveLength(1);
        const events = await check.get(`/api/tasks/${id}/events`);
        expect(events.body.items).toHaveLength(2);
      }
    }
    expect(await stop(again)).toBe(0);
    expect(postgresProcessesIn(dataDir)).toEqual([]);
    expect(postgresProcessesIn(restored)).toEqual([]);
  });
});

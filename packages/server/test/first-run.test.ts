/**
 * The newcomer's first run: `npm start` with Claude credentials in the environment runs the server and a
 * local agent (a child process of its own), so a task created through the API runs end to end (here against
 * the scripted Messages API, in a workspace without a repository). The agent runs under a member account
 * with a scrubbed environment: a task that prints its environment and ~/.buildd/config.json finds neither
 * the admin key nor the server's configuration.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bash,
  type FakeAnthropic,
  startFakeAnthropic,
  text,
} from '../../agent/test/support/fake-anthropic.ts';
import { newApiKey } from '../src/ids.ts';
import { apiClient } from './support/api.ts';
import { trackDataDir } from './support/leaks.ts';

const bin = fileURLToPath(new URL('../bin/buildd-server.mjs', import.meta.url));

describe('npm start with Claude credentials', () => {
  let home: string;
  let anthropic: FakeAnthropic;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'buildd-first-run-'));
    await chmod(home, 0o755); // as root, the embedded PostgreSQL runs as `postgres`, which must pass through
    anthropic = await startFakeAnthropic({
      script: [
        bash(
          "echo ENV-DUMP; printenv; tr '\\0' '\\n' < /proc/$PPID/environ; cat ~/.buildd/config.json; echo END-DUMP",
          { usage: { input_tokens: 1000, output_tokens: 100 } },
        ),
        text('Nothing to change here.', { usage: { input_tokens: 1000, output_tokens: 100 } }),
      ],
    });
  });
  afterAll(async () => {
    await anthropic.close();
    await rm(home, { recursive: true, force: true });
  });

  it('runs a local agent that completes a task end to end', async () => {
    const adminKey = newApiKey('user');
    const dataDir = join(home, 'data');
    trackDataDir(dataDir);
    const child = spawn(process.execPath, [bin, '--port', '0'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        BUILDD_DATA_DIR: dataDir,
        BUILDD_ADMIN_KEY: adminKey,
        ANTHROPIC_API_KEY: 'sk-ant-api03-FAKE-first-run-0123456789',
        ANTHROPIC_BASE_URL: anthropic.url,
        DATABASE_URL_NOTE: 'server-only-setting',
        BUILDD_LEASE_SECONDS: '60',
        CLAUDE_CODE_MAX_RETRIES: '0',
        CLAUDE_CONFIG_DIR: join(home, '.claude'),
      },
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    try {
      let url = '';
      for (let i = 0; i < 600 && !url; i++) {
        url = out.match(/"url":"(http:[^"]+)"/)?.[1] ?? '';
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(url).not.toBe('');
      const admin = apiClient(url, adminKey);
      expect((await admin.post('/api/workspaces', { name: 'scratch' })).status).toBe(201);
      const task = await admin.post('/api/tasks', {
        workspaceId: 'scratch',
        title: 'Look around',
        prompt: 'Look around.',
      });
      let status = '';
      let body: any;
      for (let i = 0; i < 900 && !['completed', 'failed'].includes(status); i++) {
        await new Promise((r) => setTimeout(r, 100));
        body = (await admin.get(`/api/tasks/${task.body.id}`)).body;
        status = body.status;
      }
      if (status !== 'completed') console.error(out);
      expect(status).toBe('completed');
      expect(body.result.summary).toBe('Nothing to change here.');
      expect(body.costUsd).toBeCloseTo((2 * (1000 * 3 + 100 * 15)) / 1e6, 6);
      const agents = await admin.get('/api/agents');
      const local = agents.body.items.find((a: { name: string }) => a.name === 'local');
      expect(local).toBeDefined();
      // Under a member account of its own, never the admin's.
      const accounts = await admin.get('/api/accounts');
      const owner = accounts.body.items.find((a: { id: string }) => a.id === local.accountId);
      expect(owner).toMatchObject({ level: 'member' });
      expect(out).not.toContain('FAKE-first-run');
      expect(out).toMatch(/local agent: /); // its log lines, relayed with a prefix

      // The agent's own process: its environment holds no server setting and no admin key.
      const pid = Number(out.match(/"pid":(\d+)[^\n]*a local agent runs tasks in a child process/)?.[1]);
      expect(pid).toBeGreaterThan(0);
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      const names = environ.map((entry) => entry.split('=')[0]);
      for (const name of [
        'BUILDD_ADMIN_KEY',
        'BUILDD_DATA_DIR',
        'BUILDD_LEASE_SECONDS',
        'DATABASE_URL_NOTE',
        'CLAUDE_CONFIG_DIR',
      ])
        expect(names).not.toContain(name);
      expect(environ.join('\n')).not.toContain(adminKey);
      expect(environ.find((e) => e.startsWith('HOME='))).toBe(`HOME=${join(home, 'local-agent', 'home')}`);

      // What the task's commands printed: none of it is the admin key or the server's configuration.
      const events = await admin.get(`/api/tasks/${task.body.id}/events?limit=500`);
      const printed = JSON.stringify(events.body.items);
      expect(printed).toContain('ENV-DUMP');
      expect(printed).not.toContain(adminKey);
      expect(printed).not.toContain('BUILDD_ADMIN_KEY');
      expect(printed).not.toContain('server-only-setting');
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }, 150_000);
});

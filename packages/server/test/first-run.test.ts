/**
 * The newcomer's first run: `npm start` with Claude credentials in the environment runs the server and a
 * local agent in one process, so a task created through the API runs end to end (here against the
 * scripted Messages API, in a workspace without a repository).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAnthropic, startFakeAnthropic, text } from '../../agent/test/support/fake-anthropic.ts';
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
      script: [text('Nothing to change here.', { usage: { input_tokens: 1000, output_tokens: 100 } })],
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
      expect(body.costUsd).toBeCloseTo((1000 * 3 + 100 * 15) / 1e6, 6);
      const agents = await admin.get('/api/agents');
      expect(agents.body.items.some((a: { name: string }) => a.name === 'local')).toBe(true);
      expect(out).not.toContain('FAKE-first-run');
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }, 150_000);
});

/**
 * The deployment recipes in deploy/ are checked, not just written: the systemd units by systemd's own
 * verifier, the install script's refusals by running it, the workflow and Dockerfiles by what they must
 * contain. (No Docker daemon runs here; the images themselves are not built by this suite.)
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { apiClient } from '../../packages/server/test/support/api.ts';
import { startTestServer } from '../../packages/server/test/support/server.ts';

const root = join(import.meta.dirname, '..', '..');
const deploy = (...parts: string[]) => join(root, 'deploy', ...parts);
const scratch = mkdtempSync(join(tmpdir(), 'buildd-recipes-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const hasSystemd = spawnSync('systemd-analyze', ['--version']).status === 0;

/** `systemd-analyze verify` of a unit file, with ExecStart's binary swapped for one that exists here. */
function verifyUnit(text: string, name: string) {
  const file = join(scratch, name);
  writeFileSync(file, text.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
  const run = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { status: run.status, messages: `${run.stdout}${run.stderr}`.trim() };
}

const setting = (unit: string, key: string) =>
  unit
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));

describe.runIf(process.platform === 'linux')('systemd units', () => {
  it('are found valid by systemd-analyze verify', () => {
    expect(hasSystemd, 'systemd-analyze is missing: apt-get install -y systemd').toBe(true);
    for (const name of ['buildd-agent.service', 'buildd-server.service']) {
      const result = verifyUnit(readFileSync(deploy('systemd', name), 'utf8'), name);
      expect(result.messages, name).toBe('');
      expect(result.status, name).toBe(0);
    }
  });

  it('would be caught by the verifier if broken (the check can fail)', () => {
    const unit = readFileSync(deploy('systemd', 'buildd-agent.service'), 'utf8');
    const broken = verifyUnit(unit.replace('Restart=always', 'Restart=sometimes'), 'broken.service');
    expect(broken.messages).toMatch(/Failed to parse service restart specifier/);
  });

  it('keep keys in an EnvironmentFile, restart always, and give the agent time to drain', () => {
    const agent = readFileSync(deploy('systemd', 'buildd-agent.service'), 'utf8');
    const server = readFileSync(deploy('systemd', 'buildd-server.service'), 'utf8');
    for (const unit of [agent, server]) {
      expect(setting(unit, 'EnvironmentFile')).toHaveLength(1);
      expect(setting(unit, 'Restart')).toEqual(['always']);
      expect(setting(unit, 'User')).toEqual(['buildd']);
      expect(setting(unit, 'Environment').join(' ')).not.toMatch(/KEY|TOKEN|DATABASE_URL/);
    }
    const grace = Number(/--grace-period=(\d+)/.exec(setting(agent, 'ExecStart')[0] ?? '')?.[1]);
    expect(grace).toBeGreaterThan(0);
    expect(Number(setting(agent, 'TimeoutStopSec')[0])).toBeGreaterThan(grace);
    // Only the agent gets SIGTERM; its running Claude Code processes finish under it.
    expect(setting(agent, 'KillMode')).toEqual(['mixed']);
    for (const example of ['agent.env.example', 'server.env.example']) {
      expect(existsSync(deploy('systemd', example))).toBe(true);
    }
  });
});

describe('install-agent.sh', () => {
  /** A PATH holding only the named commands (links to the real ones, or small fakes). */
  function pathWith(commands: Record<string, string | { fake: string }>) {
    const dir = mkdtempSync(join(scratch, 'bin-'));
    for (const [name, target] of Object.entries(commands)) {
      if (typeof target === 'string') symlinkSync(target, join(dir, name));
      else {
        writeFileSync(join(dir, name), `#!/bin/sh\n${target.fake}\n`);
        chmodSync(join(dir, name), 0o755);
      }
    }
    return dir;
  }
  const which = (cmd: string) =>
    spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
  const run = (path: string) =>
    spawnSync('/bin/bash', [deploy('install-agent.sh')], {
      encoding: 'utf8',
      env: { PATH: path, HOME: mkdtempSync(join(scratch, 'home-')) },
    });

  it('refuses a Node.js older than 20.11 and says what to do', () => {
    const result = run(pathWith({ node: { fake: 'echo 18.19.0' }, npm: which('npm'), git: which('git') }));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Node.js 18.19.0 is too old: buildd-agent needs Node.js 20.11 or newer');
  });

  it('refuses a machine without git', () => {
    const result = run(pathWith({ node: process.execPath, npm: which('npm') }));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('git is not installed');
  });

  it('refuses a machine without Node.js', () => {
    const result = run(pathWith({ git: which('git') }));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Node.js is not installed');
  });

  it('is served by buildd-server at /install-agent.sh, byte for byte', async () => {
    const t = await startTestServer();
    try {
      const res = await apiClient(t.url).get('/install-agent.sh');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/shellscript/);
      expect(res.body).toBe(readFileSync(deploy('install-agent.sh'), 'utf8'));
    } finally {
      await t.close();
    }
  });
});

describe('GitHub Actions worker and Coder snippet', () => {
  it('the workflow runs one agent on buildd-task dispatches and by hand, with keys from secrets', () => {
    const wf = parse(readFileSync(deploy('github', 'buildd-worker.yml'), 'utf8'));
    expect(wf.on.repository_dispatch.types).toEqual(['buildd-task']);
    expect(wf.on).toHaveProperty('workflow_dispatch');
    const steps = wf.jobs.work.steps as { run?: string; env?: Record<string, string> }[];
    const install = steps.find((s) => s.run?.includes('install-agent.sh'));
    expect(install?.run).toContain('| bash');
    const runStep = steps.find((s) => s.run?.includes('buildd-agent --max-tasks=1'));
    // GitHub's expression syntax, written out: `${{ secrets.NAME }}`.
    const secret = (name: string) => `$\{{ secrets.${name} }}`;
    for (const name of ['BUILDD_SERVER', 'BUILDD_API_KEY', 'ANTHROPIC_API_KEY']) {
      expect(runStep?.env?.[name]).toBe(secret(name));
    }
  });

  it('the Coder snippet is valid bash that installs through the server and starts the agent', () => {
    const snippet = readFileSync(deploy('coder', 'startup.sh'), 'utf8');
    expect(spawnSync('bash', ['-n', deploy('coder', 'startup.sh')]).status).toBe(0);
    expect(snippet).toContain('curl -fsSL "$BUILDD_SERVER/install-agent.sh" | bash');
    expect(snippet).toMatch(/^buildd-agent .*&$/m);
    expect(snippet).not.toContain('--api-key');
  });
});

describe('Dockerfiles', () => {
  it.each([
    ['agent.Dockerfile', ['git', 'bubblewrap']],
    ['server.Dockerfile', []],
  ])('%s is multi-stage on Node 20, runs as a non-root user, copies only what exists', (name, packages) => {
    const text = readFileSync(deploy('docker', name), 'utf8');
    const froms = text.split('\n').filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toMatch(/^FROM node:20-/);
    const finalStage = text.slice(text.lastIndexOf('\nFROM '));
    const user = /^USER (\S+)/m.exec(finalStage)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    for (const pkg of packages) expect(finalStage).toMatch(new RegExp(`apt-get install[^\\n]*\\b${pkg}\\b`));
    for (const [, sources] of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of sources!.split(' ')) expect(existsSync(join(root, source)), source).toBe(true);
    }
  });
});

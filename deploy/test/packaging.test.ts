/**
 * What a person who installs buildd gets: `npm pack` of the server, the agent (and the CLI, once it has a
 * bin), each tarball installed into an empty folder with npm, and the installed commands run with plain
 * node: `--version`, `--help`, and a real task end to end: the installed server serves the install
 * script, the Coder snippet installs the agent tarball through it and starts the agent, and the agent
 * completes a task (real Claude Agent SDK against the scripted fake Messages API, real git origin).
 *
 * Slow by nature (npm installs; the SDK's platform binary is ~186 MB, taken from the local npm cache when
 * it is there), so it is one file with generous timeouts; it prints how long the installs took.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FakeAnthropic,
  startFakeAnthropic,
  text,
  write,
} from '../../packages/agent/test/support/fake-anthropic.ts';
import { makeOrigin } from '../../packages/agent/test/support/git-fixtures.ts';
import { apiClient, makeAccount } from '../../packages/server/test/support/api.ts';

const root = join(import.meta.dirname, '..', '..');
const minutes = (n: number) => n * 60_000;
const began = Date.now();
const progress = (what: string) =>
  console.log(`packaging +${((Date.now() - began) / 1000).toFixed(0)} s: ${what}`);
const npmCache = process.env.npm_config_cache ?? join(homedir(), '.npm');
// World-traversable, so an embedded PostgreSQL running as another user can reach its data dir below it.
const scratch = mkdtempSync(join(tmpdir(), 'buildd-packaging-'));
chmodSync(scratch, 0o755);
const dir = (name: string) => {
  const path = join(scratch, name);
  mkdirSync(path, { recursive: true, mode: 0o755 });
  return path;
};

interface Packed {
  name: string;
  version: string;
  bins: string[];
  tarball: string;
}

/** `npm pack` of one workspace package (its prepack step builds it). */
function pack(pkgDir: string): Packed {
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const file = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir('tarballs')], {
    cwd: pkgDir,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .at(-1)!;
  return {
    name: manifest.name,
    version: manifest.version,
    bins: Object.keys(manifest.bin ?? {}),
    tarball: join(scratch, 'tarballs', file),
  };
}

/** `npm install <tarball>` into a new empty folder; resolves to the folder and the seconds it took. */
function installInto(folder: string, tarball: string) {
  const started = Date.now();
  execFileSync(
    'npm',
    ['install', '--prefix', folder, '--no-audit', '--no-fund', '--prefer-offline', tarball],
    {
      cwd: folder,
      env: { ...process.env, npm_config_cache: npmCache, npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  return (Date.now() - started) / 1000;
}

function runBin(bin: string, args: string[]) {
  return execFileSync(bin, args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: dir('bin-home') },
  });
}

const packed: Record<'server' | 'agent', Packed> & { cli?: Packed } = {} as never;
const children: ChildProcess[] = [];
let agentPidFile: string | undefined;
let anthropic: FakeAnthropic | undefined;

beforeAll(() => {
  packed.server = pack(join(root, 'packages', 'server'));
  packed.agent = pack(join(root, 'packages', 'agent'));
  const cliManifest = join(root, 'packages', 'cli', 'package.json');
  if (existsSync(cliManifest) && JSON.parse(readFileSync(cliManifest, 'utf8')).bin) {
    packed.cli = pack(join(root, 'packages', 'cli'));
  }
  progress('packed');
  const took = installInto(dir('server-install'), packed.server.tarball);
  console.log(`packaging: npm install of ${packed.server.name} took ${took.toFixed(1)} s`);
  if (packed.cli) {
    const cliTook = installInto(dir('cli-install'), packed.cli.tarball);
    console.log(`packaging: npm install of ${packed.cli.name} took ${cliTook.toFixed(1)} s`);
  }
}, minutes(6));

afterAll(async () => {
  const pid =
    agentPidFile && existsSync(agentPidFile) ? Number(readFileSync(agentPidFile, 'utf8')) : undefined;
  if (pid) await stopPid(pid);
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
  await anthropic?.close();
  rmSync(scratch, { recursive: true, force: true });
}, minutes(2));

/** SIGTERM to a process this test started (not its child: the Coder snippet backgrounds it), then wait. */
async function stopPid(pid: number) {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  if (alive()) process.kill(pid, 'SIGKILL');
}

describe('installed packages', () => {
  it('buildd-server answers --version and --help', () => {
    const bin = join(scratch, 'server-install', 'node_modules', '.bin', 'buildd-server');
    expect(runBin(bin, ['--version']).trim()).toBe(packed.server.version);
    expect(runBin(bin, ['--help'])).toContain('Usage: buildd-server');
    // The installed command is the built JavaScript, not TypeScript through a loader.
    expect(readFileSync(bin, 'utf8')).not.toMatch(/from ['"]tsx|tsx\/esm/);
  });

  it('the CLI answers --version and --help (when the CLI package has a bin)', (ctx) => {
    if (!packed.cli) ctx.skip();
    for (const name of packed.cli!.bins) {
      const bin = join(scratch, 'cli-install', 'node_modules', '.bin', name);
      expect(runBin(bin, ['--version'])).toContain(packed.cli!.version);
      expect(runBin(bin, ['--help']).length).toBeGreaterThan(0);
    }
  });

  it(
    'the Coder snippet installs the agent through the server, and the agent completes a task',
    async () => {
      const serverHome = dir('server-home');
      const adminKey = `buildd_user_${randomBytes(32).toString('base64url')}`;
      const server = spawn(
        join(scratch, 'server-install', 'node_modules', '.bin', 'buildd-server'),
        ['--port', '0', '--data-dir', join(serverHome, 'data'), '--no-local-agent', '--log-format', 'json'],
        {
          env: { PATH: process.env.PATH ?? '', HOME: serverHome, BUILDD_ADMIN_KEY: adminKey },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      children.push(server);
      let serverOut = '';
      const url = await new Promise<string>((resolve, reject) => {
        server.stdout!.on('data', (chunk: Buffer) => {
          serverOut += chunk.toString();
          const match = /"url":"(http:[^"]+)".*"msg":"buildd-server listening"/.exec(serverOut);
          if (match) resolve(match[1]!);
        });
        server.stderr!.on('data', (chunk: Buffer) => {
          serverOut += chunk.toString();
        });
        server.once('exit', (code) => reject(new Error(`buildd-server exited (${code}):\n${serverOut}`)));
      });
      progress(`the installed server listens on ${url}`);
      const admin = apiClient(url, adminKey);
      const origin = makeOrigin(dir('origin'));
      const ws = await admin.post('/api/workspaces', {
        name: 'packaged',
        repoUrl: origin.url,
        defaultBranch: origin.defaultBranch,
      });
      expect(ws.status).toBe(201);
      const task = await admin.post('/api/tasks', {
        workspaceId: 'packaged',
        title: 'hello',
        prompt: 'Say hello',
      });
      expect(task.status).toBe(201);
      const agentAccount = await makeAccount(admin, url, { name: 'packaged-agent', type: 'service' });

      anthropic = await startFakeAnthropic({
        script: [write('hello.txt', 'hello from an installed agent\n'), text('Wrote hello.txt.')],
      });
      const agentHome = dir('agent-home');
      mkdirSync(join(agentHome, 'tmp'));
      agentPidFile = join(agentHome, '.buildd-agent.pid');
      const started = Date.now();
      const snippet = spawn('/bin/bash', [join(root, 'deploy', 'coder', 'startup.sh')], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: agentHome,
          BUILDD_SERVER: url,
          BUILDD_API_KEY: agentAccount.key,
          // The install script's overrides: this tarball instead of the registry's package.
          BUILDD_AGENT_PACKAGE: packed.agent.tarball,
          npm_config_cache: npmCache,
          npm_config_prefer_offline: 'true',
          ANTHROPIC_API_KEY: 'sk-ant-api03-FAKE-packaging-0123456789',
          ANTHROPIC_BASE_URL: anthropic.url,
          CLAUDE_CONFIG_DIR: join(agentHome, '.claude'),
          CLAUDE_CODE_TMPDIR: join(agentHome, 'tmp'),
          CLAUDE_CODE_MAX_RETRIES: '0',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          GIT_AUTHOR_NAME: 'buildd test',
          GIT_AUTHOR_EMAIL: 'test@buildd.invalid',
          GIT_COMMITTER_NAME: 'buildd test',
          GIT_COMMITTER_EMAIL: 'test@buildd.invalid',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(snippet);
      let snippetOut = '';
      snippet.stdout!.on('data', (c: Buffer) => {
        snippetOut += c.toString();
      });
      snippet.stderr!.on('data', (c: Buffer) => {
        snippetOut += c.toString();
      });
      const code = await new Promise((resolve) => snippet.once('exit', resolve));
      expect(code, snippetOut).toBe(0);
      console.log(
        `packaging: the Coder snippet installed ${packed.agent.name} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      expect(snippetOut).toContain(`installed buildd-agent ${packed.agent.version}`);

      const agentBin = join(agentHome, '.local', 'bin', 'buildd-agent');
      expect(runBin(agentBin, ['--version']).trim()).toBe(packed.agent.version);
      expect(runBin(agentBin, ['--help'])).toContain('Usage: buildd-agent');

      progress('the agent runs; waiting for the task');
      let current = (await admin.get(`/api/tasks/${task.body.id}`)).body;
      const deadline = Date.now() + minutes(5);
      while (!['completed', 'failed', 'cancelled'].includes(current.status) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        current = (await admin.get(`/api/tasks/${task.body.id}`)).body;
      }
      const agentLog = existsSync(join(agentHome, '.buildd-agent.log'))
        ? readFileSync(join(agentHome, '.buildd-agent.log'), 'utf8')
        : '';
      progress(`the task is ${current.status}`);
      expect(current.status, `${JSON.stringify(current)}\n${agentLog}\n${serverOut}`).toBe('completed');
      expect(origin.readFile(current.result.branch, 'hello.txt')).toBe('hello from an installed agent');
      expect((await admin.get('/readyz')).status).toBe(200);
    },
    minutes(12),
  );
});

import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { newApiKey } from '../src/ids.ts';
import { chooseLogFormat, createServerLogger, type LogFormat } from '../src/log.ts';

const bin = fileURLToPath(new URL('../bin/buildd-server.mjs', import.meta.url));
// A random key: BUILDD_ADMIN_KEY must have full entropy.
const adminKey = newApiKey('user');
const githubToken = 'ghp_LogFormatTestToken0123456789abcdefgh';
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are what is looked for
const ansi = /\u001b\[\d+m/;

/** Runs the real server until it has logged the admin creation, then stops it; resolves to its stdout. */
async function serverOutput(dir: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, '--port', '0', '--data-dir', join(dir, 'data'), '--no-local-agent', ...args],
    {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        BUILDD_ADMIN_KEY: adminKey,
        BUILDD_GITHUB_TOKEN: githubToken,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('admin account created')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`buildd-server exited (${code}) before logging:\n${out}`)));
  });
  child.kill('SIGTERM');
  await exited;
  return out;
}

// Each of the first tests starts the real server process (tsx, a new embedded database): slow on a busy machine.
/** A fresh temporary folder the embedded PostgreSQL's user (as root: `postgres`) can reach. */
async function logDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'buildd-logs-'));
  await chmod(dir, 0o755);
  return dir;
}

describe('server logs', { timeout: 180_000 }, () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('writes JSON lines when stdout is not a terminal, with no secret in them', async () => {
    dir = await logDir();
    const out = await serverOutput(dir, []);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const listening = lines.find((l) => l.msg === 'buildd-server listening');
    expect(listening).toMatchObject({ level: 30, svc: 'buildd-server' });
    expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines.find((l) => l.msg.startsWith('admin account created')).key).toBe(adminKey.slice(0, 16));
    expect(out).not.toContain(adminKey);
    expect(out).not.toContain(githubToken);
  });

  it('writes pino-pretty lines with --log-format pretty, coloured where colour is on, same fields', async () => {
    dir = await logDir();
    const out = await serverOutput(dir, ['--log-format', 'pretty'], { FORCE_COLOR: '1' });
    expect(out).toMatch(ansi);
    const plain = out.replace(new RegExp(ansi, 'g'), '');
    expect(plain).toMatch(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: buildd-server listening \{.*"url":"http:/m,
    );
    expect(plain).toContain('"svc":"buildd-server"');
    expect(plain).toContain(`"key":"${adminKey.slice(0, 16)}"`);
    expect(plain).not.toMatch(/^\{"level"/m);
    expect(out).not.toContain(adminKey);
    expect(out).not.toContain(githubToken);
  });

  it('refuses an unknown format with a message that names the flag', async () => {
    const child = spawn(process.execPath, [bin, '--log-format', 'xml'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toContain('--log-format must be pretty or json');
  });

  it('picks pretty on a terminal and JSON elsewhere unless told', () => {
    expect(chooseLogFormat(undefined, true)).toBe('pretty');
    expect(chooseLogFormat(undefined, false)).toBe('json');
    expect(chooseLogFormat('json', true)).toBe('json');
    expect(chooseLogFormat('pretty', false)).toBe('pretty');
  });

  it.each(['json', 'pretty'] as LogFormat[])('redacts secret fields in %s', async (format) => {
    const sink = new PassThrough();
    let text = '';
    sink.on('data', (c: Buffer) => {
      text += c.toString();
    });
    const log = createServerLogger({ level: 'info', format, destination: sink });
    log.info(
      { apiKey: 'buildd_svc_SECRETSECRET', req: { headers: { authorization: 'Bearer SECRET2' } }, n: 1 },
      'hello',
    );
    log.warn({ github: { token: 'ghp_SECRET3' } }, 'with a nested token');
    await new Promise((resolve) => setImmediate(resolve));
    expect(text).toContain('hello');
    expect(text).toContain('[redacted]');
    expect(text).toMatch(/"n":1/);
    expect(text).not.toMatch(/SECRET/);
  });
});

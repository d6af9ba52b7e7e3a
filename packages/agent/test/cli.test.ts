import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeApiKey, fakeOauthToken, waitFor } from './support/agent-harness.ts';
import { useFakeBuildd } from './support/fake-buildd.ts';

const bin = join(import.meta.dirname, '..', 'bin', 'buildd-agent.mjs');
const buildd = useFakeBuildd();
let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
});

/** Runs the CLI with a clean environment (temp HOME, no real credentials of this machine). */
function cli(args: string[], env: Record<string, string> = {}) {
  const home = mkdtempSync(join(tmpdir(), 'buildd-cli-home-'));
  const proc = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  const out = { stdout: '', stderr: '', home };
  proc.stdout.on('data', (d) => {
    out.stdout += d;
  });
  proc.stderr.on('data', (d) => {
    out.stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, out, exited };
}

describe('buildd-agent CLI', () => {
  it('prints its version and help', async () => {
    const version = cli(['--version']);
    expect(await version.exited).toBe(0);
    expect(version.out.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = cli(['--help']);
    expect(await help.exited).toBe(0);
    expect(help.out.stdout).toContain('--max-tasks=N');
    expect(help.out.stdout).toContain('CLAUDE_CODE_OAUTH_TOKEN');
  });

  it('exits non-zero with a sentence when the key or the Claude credential is missing', async () => {
    const noKey = cli([]);
    expect(await noKey.exited).toBe(2);
    expect(noKey.out.stderr).toContain(
      'BUILDD_API_KEY is not set: pass --api-key, set BUILDD_API_KEY, or put "apiKey" in ~/.buildd/config.json (the server\'s first start writes it)',
    );
    const noClaude = cli(['--api-key=buildd_user_k']);
    expect(await noClaude.exited).toBe(2);
    expect(noClaude.out.stderr).toMatch(/CLAUDE_CODE_OAUTH_TOKEN.*ANTHROPIC_API_KEY/);
  });

  it('reads ~/.buildd/config.json, logs no secret, and exits 0 on SIGTERM', async () => {
    const home = mkdtempSync(join(tmpdir(), 'buildd-cli-home-'));
    mkdirSync(join(home, '.buildd'));
    const apiKey = 'buildd_user_from_config_file_0123456789';
    writeFileSync(join(home, '.buildd', 'config.json'), JSON.stringify({ server: buildd.fake.url, apiKey }));
    const run = cli(['--poll-interval=0.2'], {
      HOME: home,
      CLAUDE_CODE_OAUTH_TOKEN: fakeOauthToken,
      ANTHROPIC_API_KEY: fakeApiKey,
    });
    await waitFor(
      () => buildd.fake.requests.filter((r) => r.path === '/api/workers/claim').length >= 2,
      15_000,
      'claims',
    );
    expect(buildd.fake.requests[0]?.headers.authorization).toBe(`Bearer ${apiKey}`);
    run.proc.kill('SIGTERM');
    expect(await run.exited).toBe(0);

    const log = run.out.stderr;
    // Not a terminal: JSON lines.
    const starting = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'buildd agent starting');
    expect(starting).toMatchObject({
      level: 'info',
      claudeAuth: 'oauth',
      credentialFrom: 'CLAUDE_CODE_OAUTH_TOKEN',
    });
    expect(starting.credentialPrefix).toMatch(/^sk-ant-oat01/);
    expect(log).toContain('SIGTERM');
    expect(log).toContain('buildd agent stopped');
    for (const secret of [fakeOauthToken, fakeApiKey, apiKey]) expect(log).not.toContain(secret);
  });
});

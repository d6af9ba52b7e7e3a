/**
 * No secret leaves the agent: a real run (the SDK against the fake Messages API) whose tools print
 * every secret the agent knows; neither the spool on disk nor anything sent to the server holds one.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent } from '../src/agent.ts';
import {
  type claimed,
  fakeApiKey,
  fakeOauthToken,
  memoryLog,
  sdkTestEnv,
  testConfig,
  waitFor,
} from './support/agent-harness.ts';
import { bash, type FakeAnthropic, startFakeAnthropic, text } from './support/fake-anthropic.ts';
import { useFakeBuildd } from './support/fake-buildd.ts';
import { makeWorker } from './support/run-fixtures.ts';

const builddKey = 'buildd_user_test_key_0123456789';
const npmToken = 'npm_FAKE-operator-marked-secret-0123456789';
const secrets = [fakeOauthToken, fakeApiKey, builddKey, npmToken];

const buildd = useFakeBuildd();
let anthropic: FakeAnthropic | undefined;
afterEach(async () => {
  await anthropic?.close();
  anthropic = undefined;
});

/** Runs one claimed worker through a real agent and returns its data dir once the final report is in. */
async function runOne(worker: ReturnType<typeof claimed>, steps: Parameters<typeof startFakeAnthropic>[0]) {
  anthropic = await startFakeAnthropic(steps);
  let handed = false;
  buildd.fake.route('POST', '/api/workers/claim', () => {
    const workers = handed ? [] : [worker];
    handed = true;
    return { status: 200, body: { workers } };
  });
  const config = testConfig(buildd.fake.url, ['--poll-interval=0.2'], {
    ...sdkTestEnv(anthropic.url),
    ANTHROPIC_API_KEY: fakeApiKey,
    BUILDD_SECRET_ENV: 'NPM_TOKEN',
    NPM_TOKEN: npmToken,
  });
  buildd.agent = startAgent(config, { log: memoryLog().log, channel: false });
  const final = () =>
    buildd.fake.requests.find(
      (r) => r.method === 'PATCH' && ['completed', 'failed'].includes(r.body?.status),
    );
  await waitFor(() => final() !== undefined, 60_000, 'the final report');
  return { config, final: final()! };
}

function spoolText(dataDir: string): string {
  const dir = join(dataDir, 'spool');
  return readdirSync(dir)
    .map((name) => readFileSync(join(dir, name), 'utf8'))
    .join('\n');
}

describe('redaction', () => {
  it('replaces every known secret in tool inputs, tool results and the summary before spooling or sending', async () => {
    const printAll = `echo ${secrets.join(' ')}`;
    const worker = { ...makeWorker(), renewSeconds: 15 };
    const { config, final } = await runOne(worker, {
      script: [bash(printAll), text(`Done: ${fakeOauthToken} and ${npmToken}`)],
    });
    expect(final.body.status).toBe('completed');
    expect(final.body.summary).toBe('Done: [redacted] and [redacted]');
    const events = buildd.fake.requests
      .filter((r) => r.path.endsWith('/events'))
      .flatMap((r) => r.body.events);
    const toolResult = events.find((e: { type: string }) => e.type === 'tool_result');
    expect(toolResult?.data.content).toBe(secrets.map(() => '[redacted]').join(' '));
    const toolUse = events.find((e: { type: string }) => e.type === 'tool_use');
    expect(toolUse?.data.input.command).toBe(`echo ${secrets.map(() => '[redacted]').join(' ')}`);
    // The conversation (the session transcript, tool output and all) went up too, redacted like the rest.
    const conversation = buildd.fake.requests.find(
      (r) => r.path.endsWith('/artifacts') && r.headers['x-artifact-name'] === 'conversation',
    );
    expect(conversation?.raw).toContain('[redacted]');
    // Not in anything the server got, nor in what the spool holds or held.
    for (const request of buildd.fake.requests) {
      for (const secret of secrets) expect(request.raw, request.path).not.toContain(secret);
    }
    await buildd.agent?.stop();
    const spool = join(config.dataDir, 'spool');
    for (const secret of secrets) expect(spoolText(config.dataDir)).not.toContain(secret);
    // Owner only: the data dir and the spool hold tool output.
    expect(statSync(config.dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(spool).mode & 0o777).toBe(0o700);
    expect(statSync(join(config.dataDir, 'agent-id')).mode & 0o777).toBe(0o600);
  });

  it('replaces a secret in the error of a failed run', async () => {
    // A repository URL that carries a token, as https://user:token@host URLs do.
    const worker = {
      ...makeWorker({ workspace: { repoUrl: `/nowhere/${npmToken}/repo.git` } }),
      renewSeconds: 15,
    };
    const { final } = await runOne(worker, { script: [text('never asked')] });
    expect(final.body).toMatchObject({ status: 'failed', exitCause: 'git' });
    expect(final.body.error).toContain('/nowhere/[redacted]/repo.git');
    expect(final.raw).not.toContain(npmToken);
  });
});

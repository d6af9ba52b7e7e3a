/**
 * A real buildd agent in this process, running the real Claude Agent SDK against the scripted fake
 * Messages API, with a temporary HOME (no real credential can reach anything).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningAgent, startAgent } from '../../../agent/src/agent.ts';
import { fakeOauthToken, memoryLog, testConfig } from '../../../agent/test/support/agent-harness.ts';
import {
  type FakeAnthropic,
  startFakeAnthropic,
  text,
  tool,
  write,
} from '../../../agent/test/support/fake-anthropic.ts';

export { fakeOauthToken };

/**
 * The fake model: a prompt with LOOP-FOREVER runs a tool on every turn (so `--max-turns 1` runs out of turns);
 * any other prompt writes hello.txt and ends with "Wrote hello.txt.".
 */
export function startFakeModel(): Promise<FakeAnthropic> {
  return startFakeAnthropic({
    scriptFor: (_session, first) =>
      JSON.stringify(first).includes('LOOP-FOREVER')
        ? [
            tool('Bash', () => ({ command: 'echo one' })),
            tool('Bash', () => ({ command: 'echo two' })),
            text('never reached'),
          ]
        : [
            write('hello.txt', 'hello from buildd\n', { usage: { input_tokens: 1000, output_tokens: 100 } }),
            text('Wrote hello.txt.', { usage: { input_tokens: 1000, output_tokens: 50 } }),
          ],
  });
}

/** Starts an agent on `server` with `apiKey`; stop it with `agent.stop()`. */
export function startTestAgent(server: string, apiKey: string, model: FakeAnthropic): RunningAgent {
  const home = mkdtempSync(join(tmpdir(), 'buildd-cli-agent-'));
  mkdirSync(join(home, 'tmp'));
  const config = testConfig(server, ['--api-key', apiKey, '--poll-interval=1', '--max-tasks=2'], {
    HOME: home,
    CLAUDE_CONFIG_DIR: join(home, '.claude'),
    CLAUDE_CODE_TMPDIR: join(home, 'tmp'),
    ANTHROPIC_BASE_URL: model.url,
    CLAUDE_CODE_MAX_RETRIES: '0',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  });
  return startAgent(config, { log: memoryLog().log });
}

/**
 * The push channel against a server that goes silent without closing (a half-open connection, as the
 * fake sees it: it stops reading the socket): the agent must notice from its unanswered ping, reconnect,
 * and claim on the new connection, even when a claim is in flight at that moment.
 */
import { describe, expect, it } from 'vitest';
import { startAgent } from '../src/agent.ts';
import { memoryLog, pause, scriptedRuns, testConfig, waitFor } from './support/agent-harness.ts';
import { useFakeBuildd } from './support/fake-buildd.ts';

const buildd = useFakeBuildd();

const claims = () => buildd.fake.requests.filter((r) => r.path === '/api/workers/claim');

/**
 * An agent that polls only every 60 s and pings after 0.2 s of silence, once it has connected its channel
 * and made its two start-up claims (one at start, one on connecting).
 */
async function startPingingAgent(logs: ReturnType<typeof memoryLog>) {
  buildd.agent = startAgent(testConfig(buildd.fake.url, ['--poll-interval=60', '--channel-ping=0.2']), {
    runTask: scriptedRuns().runTask,
    log: logs.log,
  });
  await waitFor(() => buildd.fake.channelConnections.length === 1 && claims().length === 2, 10_000, 'start');
}
const silent = 'push channel silent (no pong): dropping it and reconnecting';

describe('the push channel', () => {
  it('drops a connection whose server stopped answering pings, reconnects, and claims', async () => {
    const logs = memoryLog();
    // Polling every 60 s: within this test only a (re)connect can cause a claim after the first ones.
    await startPingingAgent(logs);
    await pause(500);
    expect(claims()).toHaveLength(2);
    expect(logs.count(silent)).toBe(0);

    buildd.fake.freezeChannel();
    await waitFor(() => buildd.fake.channelConnections.length === 2, 15_000, 'a reconnect');
    await waitFor(() => claims().length === 3, 10_000, 'a claim on the new connection');
    expect(logs.lines.find((l) => l.msg === silent)).toMatchObject({ level: 'warn' });
    expect(logs.lines.filter((l) => l.msg === 'push channel connected').map((l) => l.fields)).toEqual([
      { reconnect: false },
      { reconnect: true },
    ]);
  });

  it('claims after a reconnect that came while a claim was in flight', async () => {
    const logs = memoryLog();
    let holdClaims = false;
    buildd.fake.route('POST', '/api/workers/claim', async () => {
      // A long poll the server holds until the agent has reconnected its channel.
      if (holdClaims) {
        holdClaims = false;
        const until = Date.now() + 20_000;
        while (buildd.fake.channelConnections.length < 2 && Date.now() < until) await pause(20);
      }
      return { status: 200, body: { workers: [] } };
    });
    await startPingingAgent(logs);
    holdClaims = true;
    buildd.fake.push({ type: 'tasks_available' });
    await waitFor(() => claims().length === 3, 5000, 'the held claim');
    buildd.fake.freezeChannel();
    await waitFor(() => buildd.fake.channelConnections.length === 2, 15_000, 'a reconnect');
    // The reconnect's claim could not go out while the held one was in flight: it must follow it, not be
    // lost until the next poll a minute later.
    await waitFor(() => claims().length === 4, 10_000, 'a claim after the held one');
    expect(logs.count(silent)).toBeGreaterThanOrEqual(1);
  });

  it('pings only when the server has been silent: a server that pings is not pinged back', async () => {
    buildd.fake.pingChannel(50);
    await startPingingAgent(memoryLog());
    await pause(1500);
    expect(buildd.fake.channelPingsReceived()).toBe(0);
    buildd.fake.pingChannel(0);
    await waitFor(() => buildd.fake.channelPingsReceived() > 0, 10_000, 'a ping from the agent');
    expect(buildd.fake.channelConnections).toHaveLength(1);
  });
});

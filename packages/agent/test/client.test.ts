import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.ts';
import { createClient } from '../src/server/client.ts';
import { ServerRequestError } from '../src/server/request-error.ts';
import { useFakeBuildd } from './support/fake-buildd.ts';

const buildd = useFakeBuildd();

async function failure(promise: Promise<unknown>): Promise<ServerRequestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServerRequestError);
  return error as ServerRequestError;
}

describe('client', () => {
  it('sends the API key as a Bearer token and parses answers with the protocol schemas', async () => {
    const client = createClient({ server: `${buildd.fake.url}/`, apiKey: 'buildd_user_k' });
    const answer = await client.patchWorker('wrk-1', { turns: 2 });
    expect(answer).toEqual({ abort: false });
    expect(buildd.fake.requests[0]).toMatchObject({
      method: 'PATCH',
      path: '/api/workers/wrk-1',
      body: { turns: 2 },
    });
    expect(buildd.fake.requests[0]?.headers.authorization).toBe('Bearer buildd_user_k');
    expect(buildd.fake.requests[0]?.headers['user-agent']).toMatch(/^buildd-agent\//);
    expect(buildd.fake.requests[0]?.headers['x-buildd-agent-id']).toBeUndefined();
  });

  it('names its agent on every request once the agent id is known, so only the holder writes a worker', async () => {
    let id: string | null = null;
    const client = createClient({ server: buildd.fake.url, apiKey: 'buildd_user_k', agentId: () => id });
    await client.patchWorker('wrk-1', { turns: 1 });
    id = 'agent-7';
    await client.postEvents('wrk-1', { events: [{ seq: 0, type: 'status', at: new Date().toISOString() }] });
    expect(buildd.fake.requests[0]?.headers['x-buildd-agent-id']).toBeUndefined();
    expect(buildd.fake.requests[1]?.headers['x-buildd-agent-id']).toBe('agent-7');
  });

  it('reports an abort answer with its reason', async () => {
    buildd.fake.route('PATCH', /^\/api\/workers\//, () => ({
      status: 200,
      body: { abort: true, reason: 'cost_limit' },
    }));
    const client = createClient({ server: buildd.fake.url, apiKey: 'k' });
    expect(await client.patchWorker('wrk-1', {})).toEqual({ abort: true, reason: 'cost_limit' });
  });

  it('classifies answers by what the agent must do', async () => {
    const client = createClient({ server: buildd.fake.url, apiKey: 'k' });
    const reply = (status: number, code: string, details?: unknown) =>
      buildd.fake.route('PATCH', '/api/workers/w', () => ({
        status,
        body: { error: { code, message: `m${status}`, details } },
      }));

    reply(409, 'worker_not_live');
    expect((await failure(client.patchWorker('w', {}))).failure).toBe('conflict');
    reply(404, 'not_found');
    expect((await failure(client.patchWorker('w', {}))).failure).toBe('not_found');
    reply(500, 'internal');
    expect((await failure(client.patchWorker('w', {}))).failure).toBe('transient');
    reply(503, 'unavailable');
    expect((await failure(client.patchWorker('w', {}))).failure).toBe('transient');
    reply(400, 'validation_failed');
    expect((await failure(client.patchWorker('w', {}))).failure).toBe('rejected');

    reply(401, 'unauthenticated');
    const auth = await failure(client.patchWorker('w', {}));
    expect(auth.failure).toBe('fatal');
    expect(auth.message).toMatch(/rejected the API key .*BUILDD_API_KEY/);
    reply(403, 'forbidden');
    expect((await failure(client.patchWorker('w', {}))).failure).toBe('fatal');

    reply(429, 'cost_limit', {
      limit: 5,
      current: 5.2,
      retryAfterSeconds: 3600,
      resetsAt: '2030-01-01T00:00:00Z',
    });
    const limit = await failure(client.patchWorker('w', {}));
    expect(limit).toMatchObject({
      failure: 'limit',
      code: 'cost_limit',
      retryAfterSeconds: 3600,
      resetsAt: '2030-01-01T00:00:00Z',
    });
  });

  it('falls back to Retry-After on a 429 without details', async () => {
    buildd.fake.route('POST', '/api/workers/claim', () => ({ status: 429, headers: { 'retry-after': '7' } }));
    const client = createClient({ server: buildd.fake.url, apiKey: 'k' });
    expect(await failure(client.claim({ maxTasks: 1 }))).toMatchObject({
      failure: 'limit',
      retryAfterSeconds: 7,
    });
  });

  it('times out a server that never answers, and a dropped connection is transient', async () => {
    buildd.fake.route('GET', '/api/me', () => 'hang');
    const client = createClient({ server: buildd.fake.url, apiKey: 'k', timeoutMs: 200 });
    const started = Date.now();
    const hung = await failure(client.me());
    expect(hung.failure).toBe('transient');
    expect(hung.message).toMatch(/timed out after 200 ms/);
    expect(Date.now() - started).toBeLessThan(5000);

    buildd.fake.route('GET', '/api/me', () => 'destroy');
    expect((await failure(client.me())).failure).toBe('transient');
  });

  it('gives the claim long poll its wait plus a margin', async () => {
    buildd.fake.route('POST', '/api/workers/claim', async () => {
      await new Promise((r) => setTimeout(r, 1200));
      return { status: 200, body: { workers: [] } };
    });
    // The default timeout alone would cut this call; waitSeconds=1 allows 11 s.
    const client = createClient({ server: buildd.fake.url, apiKey: 'k', timeoutMs: 300 });
    expect(await client.claim({ maxTasks: 1, waitSeconds: 1 })).toEqual({ workers: [] });
  });

  it('treats an answer outside the protocol as a protocol error', async () => {
    buildd.fake.route('GET', '/api/me', () => ({ status: 200, body: { hello: 'world' } }));
    const client = createClient({ server: buildd.fake.url, apiKey: 'k' });
    expect((await failure(client.me())).failure).toBe('protocol');
  });

  it('reports an unreachable server as transient', async () => {
    const url = buildd.fake.url;
    await buildd.fake.close();
    const client = createClient({ server: url, apiKey: 'k', timeoutMs: 2000 });
    expect((await failure(client.me())).failure).toBe('transient');
  });
});

describe('backoff', () => {
  it('backs off exponentially with jitter, capped', () => {
    expect(backoffDelay(0, { random: () => 0 })).toBe(500);
    expect(backoffDelay(0, { random: () => 1 })).toBe(1000);
    expect(backoffDelay(3, { random: () => 0 })).toBe(4000);
    expect(backoffDelay(50, { random: () => 1 })).toBe(60_000);
  });
});

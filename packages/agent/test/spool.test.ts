import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkerEventInput } from '@buildd/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import { batchEvents, Outbox } from '../src/delivery/outbox.ts';
import { replaySpools } from '../src/delivery/replay.ts';
import { Spool } from '../src/delivery/spool.ts';
import { silentLog } from '../src/log.ts';
import { createClient } from '../src/server/client.ts';
import { useFakeBuildd } from './support/fake-buildd.ts';

const buildd = useFakeBuildd();
let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'buildd-spool-'));
});

const event = (seq: number, text = `e${seq}`): WorkerEventInput => ({
  seq,
  type: 'assistant_text',
  at: new Date().toISOString(),
  data: { text },
});

/** What the fake received, in order, in a compact form. */
const delivered = () =>
  buildd.fake.requests.map((r) =>
    r.method === 'PATCH'
      ? `patch:${r.body.status ?? r.body.turns}`
      : `events:${r.body.events.map((e: WorkerEventInput) => e.seq).join(',')}`,
  );

describe('Spool', () => {
  it('numbers events from 1 and continues the sequence after a restart', async () => {
    const spool = await Spool.open(dataDir, 'wrk-1');
    const seqs = [spool.nextSeq(), spool.nextSeq(), spool.nextSeq()];
    expect(seqs).toEqual([1, 2, 3]);
    await spool.append({ kind: 'events', events: seqs.map((s) => event(s)) });

    const reopened = await Spool.open(dataDir, 'wrk-1');
    expect(reopened.nextSeq()).toBe(4);
    expect(reopened.pending()).toHaveLength(1);
  });

  it('keeps what was not acknowledged, and survives a line torn by a crash', async () => {
    const spool = await Spool.open(dataDir, 'wrk-2');
    await spool.append({ kind: 'events', events: [event(spool.nextSeq())] });
    await spool.append({ kind: 'patch', body: { turns: 1 }, final: false });
    await spool.append({ kind: 'events', events: [event(spool.nextSeq())] });
    await spool.ack(2);
    appendFileSync(spool.path, '{"kind":"events","ev');

    const reopened = await Spool.open(dataDir, 'wrk-2');
    expect(reopened.pending()).toEqual([{ kind: 'events', events: [expect.objectContaining({ seq: 2 })] }]);
    expect(reopened.finished).toBe(false);
    expect(await Spool.list(dataDir)).toEqual(['wrk-2']);
  });
});

describe('Outbox', () => {
  it('holds everything during an outage and delivers it in order afterwards', async () => {
    const client = createClient({ server: buildd.fake.url, apiKey: 'k' });
    const spool = await Spool.open(dataDir, 'wrk-3');
    const outbox = new Outbox(spool, client, silentLog);
    buildd.fake.setDown(true);
    await outbox.append({ kind: 'events', events: [event(spool.nextSeq()), event(spool.nextSeq())] });
    await outbox.append({ kind: 'patch', body: { turns: 1 }, final: false });
    await outbox.append({ kind: 'events', events: [event(spool.nextSeq())] });
    await outbox.append({ kind: 'patch', body: { status: 'completed' }, final: true });
    expect(await outbox.settle(300)).toBe('pending');
    expect(spool.pending()).toHaveLength(4);
    expect(existsSync(spool.path)).toBe(true);

    buildd.fake.setDown(false);
    buildd.fake.requests.length = 0;
    expect(await outbox.drain()).toBe('delivered');
    expect(delivered()).toEqual(['events:1,2', 'patch:1', 'events:3', 'patch:completed']);
    // The final report is acknowledged: nothing is left to replay.
    expect(existsSync(spool.path)).toBe(false);
    outbox.close();
  });

  it('records events on disk at once, sends nothing until a drain, then sends them as one batch', async () => {
    const client = createClient({ server: buildd.fake.url, apiKey: 'k' });
    const spool = await Spool.open(dataDir, 'wrk-rec');
    const outbox = new Outbox(spool, client, silentLog);
    for (let i = 0; i < 3; i++) await outbox.record({ kind: 'events', events: [event(spool.nextSeq())] });
    expect(buildd.fake.requests).toHaveLength(0);
    // What a process killed right now would leave behind, and replay at its next start.
    const onDisk = await Spool.open(dataDir, 'wrk-rec');
    expect(
      onDisk.pending().flatMap((e) => (e.kind === 'events' ? e.events.map((ev) => ev.seq) : [])),
    ).toEqual([1, 2, 3]);
    await outbox.append({ kind: 'patch', body: { status: 'completed' }, final: true });
    expect(await outbox.drain()).toBe('delivered');
    expect(delivered()).toEqual(['events:1,2,3', 'patch:completed']);
    outbox.close();
  });

  it('replays spools left by an earlier run after a restart, in order', async () => {
    const finished = await Spool.open(dataDir, 'wrk-done');
    await finished.append({ kind: 'events', events: [event(finished.nextSeq()), event(finished.nextSeq())] });
    await finished.append({ kind: 'patch', body: { status: 'failed' }, final: true });
    const crashed = await Spool.open(dataDir, 'wrk-crashed');
    await crashed.append({ kind: 'events', events: [event(crashed.nextSeq())] });

    const client = createClient({ server: buildd.fake.url, apiKey: 'k' });
    const outboxes = await replaySpools(dataDir, client, silentLog);
    expect(await Promise.all(outboxes.map((o) => o.drain()))).toEqual(['delivered', 'delivered']);

    const byWorker = (id: string) =>
      buildd.fake.requests.filter((r) => r.path.includes(id)).map((r) => r.method);
    expect(byWorker('wrk-done')).toEqual(['POST', 'PATCH']);
    expect(
      buildd.fake.requests.find((r) => r.path.includes('wrk-done') && r.method === 'POST')?.body.events,
    ).toHaveLength(2);
    expect(byWorker('wrk-crashed')).toEqual(['POST']);
    expect(await Spool.list(dataDir)).toEqual([]);
  });

  it('drops the spool of a worker the server no longer knows', async () => {
    buildd.fake.route('POST', /\/events$/, () => ({
      status: 409,
      body: { error: { code: 'worker_not_live', message: 'gone' } },
    }));
    const client = createClient({ server: buildd.fake.url, apiKey: 'k' });
    const spool = await Spool.open(dataDir, 'wrk-lost');
    const aborts: string[] = [];
    const outbox = new Outbox(spool, client, silentLog, { onAbort: (reason) => aborts.push(reason) });
    await spool.append({ kind: 'events', events: [event(spool.nextSeq())] });
    await spool.append({ kind: 'patch', body: { status: 'completed' }, final: true });
    expect(await outbox.drain()).toBe('gone');
    expect(existsSync(spool.path)).toBe(false);
    expect(aborts).toEqual(['lease_lost']);
    // The final PATCH was not sent after the 409.
    expect(buildd.fake.requests.map((r) => r.method)).toEqual(['POST']);
  });

  it('skips an entry the server refuses as invalid instead of blocking the final report', async () => {
    buildd.fake.route('POST', /\/events$/, () => ({
      status: 400,
      body: { error: { code: 'validation_failed', message: 'no' } },
    }));
    const client = createClient({ server: buildd.fake.url, apiKey: 'k' });
    const spool = await Spool.open(dataDir, 'wrk-bad');
    await spool.append({ kind: 'events', events: [event(spool.nextSeq())] });
    await spool.append({ kind: 'patch', body: { status: 'failed' }, final: true });
    expect(await new Outbox(spool, client, silentLog).drain()).toBe('delivered');
    expect(buildd.fake.requests.map((r) => r.method)).toEqual(['POST', 'PATCH']);
  });

  it('sends large event lists in batches of at most 100 events and 512 KB', () => {
    const many = Array.from({ length: 250 }, (_, i) => event(i + 1));
    expect(batchEvents(many).map((b) => b.length)).toEqual([100, 100, 50]);
    const big = Array.from({ length: 5 }, (_, i) => event(i + 1, 'x'.repeat(200_000)));
    expect(batchEvents(big).map((b) => b.length)).toEqual([2, 2, 1]);
  });

  it('writes each append durably as JSON lines', async () => {
    const spool = await Spool.open(dataDir, 'wrk/with spaces');
    await spool.append({ kind: 'patch', body: { turns: 3 }, final: false });
    const lines = readFileSync(spool.path, 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual([{ kind: 'patch', body: { turns: 3 }, final: false }]);
    expect(await Spool.list(dataDir)).toEqual(['wrk/with spaces']);
  });
});

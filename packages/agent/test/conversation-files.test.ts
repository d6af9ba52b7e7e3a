/**
 * The pieces of a travelling conversation that need no model: where a transcript goes for a new checkout
 * (with the earlier worktree's paths moved), how it is found again, and when a session's input ends.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  placeConversation,
  projectFolder,
  readConversation,
  removeConversations,
} from '../src/run/conversation.ts';
import { SessionInput } from '../src/run/session-input.ts';

const root = mkdtempSync(join(tmpdir(), 'buildd-conv-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const sessionId = '6f1c7a52-5d0e-4a43-9d8e-0c1f8d3b9a10';
const transcript = (cwd: string) =>
  [
    { type: 'queue-operation', sessionId },
    { type: 'user', cwd, sessionId, message: { role: 'user', content: 'Write a greeting' } },
    {
      type: 'assistant',
      cwd,
      sessionId,
      message: {
        content: [{ type: 'tool_use', name: 'Write', input: { file_path: `${cwd}/a "quoted".txt` } }],
      },
    },
  ]
    .map((e) => JSON.stringify(e))
    .join('\n');

describe('a transcript for a new checkout', () => {
  it('goes under the new project folder with the earlier worktree path replaced, and is found and removed again', async () => {
    const config = join(root, 'claude');
    const earlier = '/data/one/worktrees/wkr_A';
    const now = join(root, 'worktrees', 'wkr_B "x"');
    const id = await placeConversation(config, now, Buffer.from(transcript(earlier)));
    expect(id).toBe(sessionId);
    const path = join(config, 'projects', projectFolder(now), `${sessionId}.jsonl`);
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[1].cwd).toBe(now);
    expect(lines[2].message.content[0].input.file_path).toBe(`${now}/a "quoted".txt`);
    expect(readFileSync(path, 'utf8')).not.toContain(earlier);

    expect((await readConversation(config, now, sessionId))?.toString()).toBe(readFileSync(path, 'utf8'));
    // Claude Code may name a folder differently: the transcript is still found.
    expect(await readConversation(config, '/elsewhere', sessionId)).not.toBeNull();
    await removeConversations(config, now, [sessionId]);
    expect(await readConversation(config, now, sessionId)).toBeNull();
  });

  it('refuses bytes that are no transcript', async () => {
    expect(await placeConversation(join(root, 'c2'), '/x', Buffer.from('not json\n{"a":1}'))).toBeNull();
    expect(
      await placeConversation(join(root, 'c2'), '/x', Buffer.from('{"sessionId":"../../etc"}')),
    ).toBeNull();
  });

  it('names project folders as Claude Code does, long paths cut with a hash', () => {
    expect(projectFolder('/tmp/a.b/c_d')).toBe('-tmp-a-b-c-d');
    const long = `/${'x'.repeat(250)}`;
    expect(projectFolder(long)).toMatch(/^-x{199}-[0-9a-z]+$/);
  });
});

describe('the input of a session', () => {
  it('stays open while a message waits for a turn of its own, ends after a turn that took everything', async () => {
    const input = new SessionInput('first');
    const iterator = input[Symbol.asyncIterator]();
    const next = async () => (await iterator.next()).value as { uuid: string; message: { content: string } };
    const started = (uuid: string) =>
      input.observe({ type: 'command_lifecycle', state: 'started', command_uuid: uuid });
    const first = await next();
    expect(first.message.content).toBe('first');
    started(first.uuid);
    expect(input.push('second')).toBe(true);
    const second = await next();
    // The turn ends before Claude Code started on the second message: it gets a turn of its own.
    input.observe({ type: 'result' });
    expect(input.push('third')).toBe(true);
    const third = await next();
    started(second.uuid);
    started(third.uuid);
    input.observe({ type: 'result' });
    expect((await iterator.next()).done).toBe(true);
    expect(input.push('late')).toBe(false);
  });

  it('without lifecycle reports, one turn ends it', async () => {
    const input = new SessionInput('only');
    const texts: string[] = [];
    const all = (async () => {
      for await (const m of input) texts.push(String(m.message.content));
    })();
    input.observe({ type: 'result' });
    await all;
    expect(texts).toEqual(['only']);
    expect(input.push('late')).toBe(false);
  });
});

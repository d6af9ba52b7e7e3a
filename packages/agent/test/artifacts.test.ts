/** The agent's artifact cache (real files) and the branch diff with its cap (a real git repository). */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArtifactCache, sha256Of } from '../src/delivery/artifact-cache.ts';
import { branchDiff } from '../src/run/diff.ts';
import { gitSync, tempDir } from './support/git-fixtures.ts';

const dirs: string[] = [];
const dir = () => {
  const d = tempDir('buildd-artifacts-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('artifact cache', () => {
  it('sends the same bytes to a task once, also after a restart, and keeps them by hash', async () => {
    const dataDir = dir();
    const sent: string[] = [];
    const send = async (a: { sha256: string }) => {
      sent.push(a.sha256);
    };
    const bytes = Buffer.from('diff --git a/x b/x\n');
    const first = await new ArtifactCache(dataDir).upload(
      'task_1',
      { name: 'diff', contentType: 'text/x-diff', bytes },
      send,
    );
    expect(first).toEqual({ sha256: sha256Of(bytes), sent: true });
    // A new cache over the same data dir: what an agent restarted after a crash would see.
    const again = await new ArtifactCache(dataDir).upload(
      'task_1',
      { name: 'diff', contentType: 'text/x-diff', bytes },
      send,
    );
    expect(again.sent).toBe(false);
    // Another task needs its own link to the bytes (the server stores them once either way).
    expect(
      (
        await new ArtifactCache(dataDir).upload(
          'task_2',
          { name: 'diff', contentType: 'text/x-diff', bytes },
          send,
        )
      ).sent,
    ).toBe(true);
    expect(sent).toEqual([sha256Of(bytes), sha256Of(bytes)]);
    expect((await new ArtifactCache(dataDir).get(sha256Of(bytes)))?.toString()).toBe(bytes.toString());
    expect(await new ArtifactCache(dataDir).get('0'.repeat(64))).toBeUndefined();
  });

  it('a failed upload is not noted as sent', async () => {
    const cache = new ArtifactCache(dir());
    const bytes = Buffer.from('x');
    await expect(
      cache.upload('t', { name: 'n', contentType: 'text/plain', bytes }, async () => {
        throw new Error('503');
      }),
    ).rejects.toThrow('503');
    expect(
      (await cache.upload('t', { name: 'n', contentType: 'text/plain', bytes }, async () => {})).sent,
    ).toBe(true);
  });
});

describe('branch diff', () => {
  it('is git diff base...HEAD, cut at a line end with a truncated marker past the cap', async () => {
    const repo = dir();
    gitSync(repo, ['init', '--quiet', '--initial-branch=main']);
    writeFileSync(join(repo, 'a.txt'), 'one\n');
    gitSync(repo, ['add', '-A']);
    gitSync(repo, ['commit', '--quiet', '-m', 'base']);
    const baseSha = gitSync(repo, ['rev-parse', 'HEAD']);
    mkdirSync(join(repo, 'src'));
    writeFileSync(join(repo, 'src/big.txt'), Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n'));
    gitSync(repo, ['add', '-A']);
    gitSync(repo, ['commit', '--quiet', '-m', 'change']);
    const checkout = { dir: repo, branch: 'main', repo: { cacheDir: repo, baseSha, adminDir: null } };

    const full = (await branchDiff(checkout))!.toString();
    expect(full.trim()).toBe(gitSync(repo, ['diff', `${baseSha}...HEAD`]));
    expect(full).not.toContain('truncated');

    const cut = (await branchDiff(checkout, 300))!.toString();
    expect(cut.length).toBeLessThan(full.length);
    expect(cut).toMatch(
      /\n\[buildd: diff truncated: \d+ of \d+ bytes shown; see the branch for the rest\]\n$/,
    );
    expect(full.startsWith(cut.slice(0, cut.lastIndexOf('\n[buildd:')))).toBe(true);
  });
});

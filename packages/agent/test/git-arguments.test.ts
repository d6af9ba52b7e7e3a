/** Values from the server reach git only as values: after `--`, and in the shape they are documented to have. */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Workspace } from '@buildd/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareCheckout } from '../src/run/git.ts';
import { makeOrigin, tempDir } from './support/git-fixtures.ts';

const root = tempDir('buildd-git-args-');
const origin = makeOrigin(root);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const workspace = (repoUrl: string | null): Workspace => ({
  id: 'ws-1',
  name: 'w',
  repoUrl,
  defaultBranch: 'main',
  access: 'open',
  maxRunningTasks: null,
  config: {},
  createdAt: new Date(0).toISOString(),
});

describe('git arguments', () => {
  it('never takes a repository URL for an option', async () => {
    const planted = join(root, 'planted-by-upload-pack');
    const repoUrl = `--upload-pack=touch ${planted}`;
    await expect(
      prepareCheckout({
        dataDir: join(root, 'data'),
        workerId: 'wrk-1',
        workspace: workspace(repoUrl),
        branch: 'buildd/a',
      }),
    ).rejects.toThrow(/git clone/);
    expect(existsSync(planted)).toBe(false);
  });

  it.each([
    ['worker id', '../../escape', 'buildd/a'],
    ['worker id', 'a/b', 'buildd/a'],
    ['branch', 'wrk-2', '--force'],
    ['branch', 'wrk-2', 'buildd/../../x'],
    ['branch', 'wrk-2', '-B'],
  ])('refuses a %s of the wrong shape before touching the disk', async (_kind, workerId, branch) => {
    const dataDir = join(root, `data-${Math.random().toString(36).slice(2)}`);
    await expect(
      prepareCheckout({ dataDir, workerId, workspace: workspace(origin.url), branch }),
    ).rejects.toThrow(/unexpected shape/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('accepts the shapes the server hands out', async () => {
    const dataDir = join(root, 'data-ok');
    const checkout = await prepareCheckout({
      dataDir,
      workerId: 'wrk_01HZX-abc',
      workspace: workspace(origin.url),
      branch: 'buildd/task-12-fix-the-thing',
    });
    expect(existsSync(join(checkout.dir, 'README.md'))).toBe(true);
  });
});

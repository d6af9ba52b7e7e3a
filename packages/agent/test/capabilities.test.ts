/** Capabilities are what really runs here, found by running each tool. */
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectCapabilities } from '../src/host/capabilities.ts';

const bin = mkdtempSync(join(tmpdir(), 'buildd-caps-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

function script(name: string, body: string) {
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

describe('detectCapabilities', () => {
  it('offers docker only when a daemon answers, and python and node with their versions', async () => {
    // A docker client without a daemon: `docker --version` works, `docker info` fails.
    script(
      'docker',
      'if [ "$1" = info ]; then echo "Cannot connect to the Docker daemon" >&2; exit 1; fi; echo "Docker version 27.0.1"',
    );
    script('python3', 'echo "Python 3.11.2"');
    symlinkSync('/usr/bin/git', join(bin, 'git'));
    const caps = await detectCapabilities({ PATH: bin }, ['gpu']);
    expect(caps).toEqual(
      expect.arrayContaining([
        'node',
        `node-${process.versions.node.split('.')[0]}`,
        'git',
        'python3',
        'python-3.11',
        'gpu',
      ]),
    );
    expect(caps).not.toContain('docker');

    script('docker', 'if [ "$1" = info ]; then echo "27.0.1"; exit 0; fi');
    expect(await detectCapabilities({ PATH: bin })).toContain('docker');
  });

  it('offers no tool that is not there, or that does not run', async () => {
    script('python3', 'exit 127');
    const caps = await detectCapabilities({ PATH: join(bin, 'missing') });
    for (const cap of ['git', 'python3', 'docker']) expect(caps).not.toContain(cap);
    expect(await detectCapabilities({ PATH: bin })).not.toContain('python3');
  });
});

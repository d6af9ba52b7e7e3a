/** The agent talks to the server only over HTTP: its sources import nothing of buildd but the protocol package. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = resolve(import.meta.dirname, '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

describe('package boundaries', () => {
  it('imports only @buildd/protocol of buildd, and nothing outside its own src/ by path', () => {
    const offending: string[] = [];
    for (const file of sources(src)) {
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'([^']+)'/g)) {
        const buildd = spec?.startsWith('@buildd/') && spec !== '@buildd/protocol';
        const outside = spec?.startsWith('.') && relative(src, resolve(file, '..', spec)).startsWith('..');
        const allowed = spec === '../package.json' || spec === '../../package.json';
        if ((buildd || outside) && !allowed) offending.push(`${relative(src, file)}: ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });
});

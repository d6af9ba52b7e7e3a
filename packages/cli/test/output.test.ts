import { describe, expect, it } from 'vitest';
import { resolveConnection } from '../src/config.ts';
import { styles, table, wantsColor } from '../src/output.ts';

describe('colour', () => {
  it('is used only on a terminal, never with NO_COLOR, --no-color or TERM=dumb', () => {
    expect(wantsColor({ isTTY: true }, {}, true)).toBe(true);
    expect(wantsColor({ isTTY: false }, {}, true)).toBe(false);
    expect(wantsColor({}, {}, true)).toBe(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '1' }, true)).toBe(false);
    expect(wantsColor({ isTTY: true }, {}, false)).toBe(false);
    expect(wantsColor({ isTTY: true }, { TERM: 'dumb' }, true)).toBe(false);
  });

  it('does not push table columns out of line', () => {
    const s = styles(true);
    const rows = [
      { a: s.green('completed'), b: 'x' },
      { a: 'failed', b: 'y' },
    ];
    const lines = table(rows, [
      { header: 'STATUS', value: (r) => r.a },
      { header: 'B', value: (r) => r.b },
    ]).split('\n');
    const plain = lines.map((l) =>
      l.replaceAll(`${String.fromCharCode(27)}[32m`, '').replaceAll(`${String.fromCharCode(27)}[39m`, ''),
    );
    expect(plain).toEqual(['STATUS     B', 'completed  x', 'failed     y']);
  });
});

describe('connection', () => {
  it('takes flags over the environment over the config file', () => {
    const file = { server: 'http://file:1', apiKey: 'buildd_user_file' };
    const env = { BUILDD_SERVER: 'http://env:2', BUILDD_API_KEY: 'buildd_user_env' };
    expect(resolveConnection({}, {}, file)).toEqual({
      server: 'http://file:1',
      apiKey: 'buildd_user_file',
      keySource: 'config file',
    });
    expect(resolveConnection({}, env, file)).toMatchObject({
      server: 'http://env:2',
      keySource: 'environment',
    });
    expect(resolveConnection({ server: 'flag:3', apiKey: 'buildd_user_flag' }, env, file)).toEqual({
      server: 'http://flag:3',
      apiKey: 'buildd_user_flag',
      keySource: 'flag',
    });
    expect(resolveConnection({}, {}, {})).toEqual({
      server: 'http://localhost:3000',
      apiKey: undefined,
      keySource: 'none',
    });
  });
});

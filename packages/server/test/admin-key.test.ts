/** BUILDD_ADMIN_KEY becomes the admin's key: it must be a key of the documented format that cannot be guessed. */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadServerConfig } from '../src/config.ts';
import { newApiKey } from '../src/ids.ts';

const bin = fileURLToPath(new URL('../bin/buildd-server.mjs', import.meta.url));
const refused = (key: string) => {
  try {
    loadServerConfig([], { BUILDD_ADMIN_KEY: key });
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
};

describe('BUILDD_ADMIN_KEY', () => {
  it('accepts generated keys of the documented format', () => {
    for (let i = 0; i < 300; i++) {
      expect(refused(newApiKey('user'))).toBeUndefined();
      expect(refused(`buildd_user_${randomBytes(32).toString('base64url')}`)).toBeUndefined();
    }
  });

  it('refuses short, malformed and low-entropy values with a sentence that says how to make one', () => {
    const cases: Array<[string, RegExp]> = [
      ['secret', /must look like buildd_user_/],
      ['buildd_user_abc', /too short/],
      [`buildd_user_${randomBytes(16).toString('hex')}`, /too short/],
      [`buildd_user_${'b'.repeat(43)}`, /does not look random/],
      ['buildd_user_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', /does not look random/],
      [`buildd_user_${'abcd'.repeat(12)}`, /does not look random/],
      [`buildd_user_${'password'.repeat(6)}`, /does not look random/],
    ];
    for (const [key, why] of cases) {
      const message = refused(key);
      expect(message, key).toMatch(why);
      expect(message).toContain('randomBytes(32)');
      expect(message).not.toContain(key);
    }
  });

  it('makes buildd-server exit 2 at start-up, before it opens a database', () => {
    const run = spawnSync(process.execPath, [bin, '--port', '0'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: '/nonexistent',
        BUILDD_ADMIN_KEY: `buildd_user_${'b'.repeat(43)}`,
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('BUILDD_ADMIN_KEY does not look random');
    expect(run.stdout).not.toContain('listening');
  });
});

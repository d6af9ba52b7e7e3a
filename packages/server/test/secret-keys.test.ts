import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadServerConfig } from '../src/config.ts';
import { loadSecretKeys, SecretKeyError } from '../src/secrets/load-secret-keys.ts';

describe('the server key that encrypts stored GitHub tokens', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'buildd-key-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const source = (over: Partial<Parameters<typeof loadSecretKeys>[0]> = {}) => ({
    key: undefined,
    file: join(dir, 'buildd', 'secret.key'),
    fileIsExplicit: false,
    old: [],
    ...over,
  });

  it('is generated once into a 0600 file beside the data dir, and the same key is read back', async () => {
    const first = await loadSecretKeys(source());
    expect(first.generated).toBe(true);
    const file = join(dir, 'buildd', 'secret.key');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const sealed = first.keys.seal('ghp_secret');
    expect(await readFile(file, 'utf8')).not.toContain('ghp_secret');
    const again = await loadSecretKeys(source());
    expect(again.generated).toBe(false);
    expect(again.keys.open(sealed)).toBe('ghp_secret');
  });

  it('takes BUILDD_SECRET_KEY in hex or base64, and refuses anything else with a sentence', async () => {
    const hex = 'ab'.repeat(32);
    const a = await loadSecretKeys(source({ key: hex }));
    const b = await loadSecretKeys(source({ key: Buffer.from(hex, 'hex').toString('base64') }));
    expect(b.keys.open(a.keys.seal('x'))).toBe('x');
    await expect(loadSecretKeys(source({ key: 'short' }))).rejects.toThrow(
      /BUILDD_SECRET_KEY is not a key: use 64 hex digits or 32 bytes in base64/,
    );
    await expect(loadSecretKeys(source({ key: hex, old: ['nope'] }))).rejects.toThrow(SecretKeyError);
    await expect(
      loadSecretKeys(source({ file: join(dir, 'missing.key'), fileIsExplicit: true })),
    ).rejects.toThrow(/Cannot read the secret key file/);
    await writeFile(join(dir, 'bad.key'), 'not a key\n');
    await expect(loadSecretKeys(source({ file: join(dir, 'bad.key') }))).rejects.toThrow(
      /does not hold a secret key/,
    );
  });

  it('is configured by environment, and BUILDD_PUBLIC_URL must be a URL', () => {
    const config = loadServerConfig([], {
      BUILDD_SECRET_KEY_FILE: '/etc/buildd/key',
      BUILDD_SECRET_KEYS_OLD: ' a , b ,',
      BUILDD_PUBLIC_URL: 'https://buildd.example.com/',
      BUILDD_GITHUB_API_URL: 'https://ghe.example.com/api/v3/',
    });
    expect(config.secretKey).toEqual({ key: undefined, file: '/etc/buildd/key', old: ['a', 'b'] });
    expect(config.publicUrl).toBe('https://buildd.example.com');
    expect(config.githubApiUrl).toBe('https://ghe.example.com/api/v3');
    expect(() => loadServerConfig([], { BUILDD_SECRET_KEY: 'hunter2' })).toThrow(
      /BUILDD_SECRET_KEY must be 64 hex digits/,
    );
    expect(() => loadServerConfig([], { BUILDD_PUBLIC_URL: 'buildd.example.com' })).toThrow(
      /BUILDD_PUBLIC_URL must be an http\(s\) URL/,
    );
  });
});

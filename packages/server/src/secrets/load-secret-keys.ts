import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseSecretKey, SecretKeys } from './secret-keys.ts';

/** Where the server's key comes from (config.ts reads these from the environment). */
export interface SecretKeySource {
  /** BUILDD_SECRET_KEY: the key itself. */
  key: string | undefined;
  /** BUILDD_SECRET_KEY_FILE, or the default file beside the data dir. */
  file: string;
  /** Whether `file` was named by the operator (then it must exist) rather than the default. */
  fileIsExplicit: boolean;
  /** BUILDD_SECRET_KEYS_OLD: earlier keys, still accepted to open what they sealed. */
  old: string[];
}

/** Thrown for a key that is missing or malformed; main prints it and exits. */
export class SecretKeyError extends Error {}

const keyShape = '64 hex digits or 32 bytes in base64 (openssl rand -base64 32)';

/**
 * The server's secret keys: BUILDD_SECRET_KEY, else the key file. The default file is generated once (32
 * random bytes, mode 0600) when it does not exist, so a single server needs no setup; replicas sharing a
 * database must share the key (give them BUILDD_SECRET_KEY or the same file).
 */
export async function loadSecretKeys(
  source: SecretKeySource,
): Promise<{ keys: SecretKeys; generated: boolean }> {
  const old = source.old.map((text, i) => {
    const key = parseSecretKey(text);
    if (!key)
      throw new SecretKeyError(`BUILDD_SECRET_KEYS_OLD entry ${i + 1} is not a key: use ${keyShape}.`);
    return key;
  });
  if (source.key !== undefined) {
    const key = parseSecretKey(source.key);
    if (!key) throw new SecretKeyError(`BUILDD_SECRET_KEY is not a key: use ${keyShape}.`);
    return { keys: new SecretKeys(key, old), generated: false };
  }
  let text: string | undefined;
  try {
    text = await readFile(source.file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || source.fileIsExplicit) {
      throw new SecretKeyError(`Cannot read the secret key file ${source.file}: ${(err as Error).message}.`);
    }
  }
  if (text !== undefined) {
    const key = parseSecretKey(text);
    if (!key)
      throw new SecretKeyError(`${source.file} does not hold a secret key: it should hold ${keyShape}.`);
    return { keys: new SecretKeys(key, old), generated: false };
  }
  const key = randomBytes(32);
  // No mode on the folder: it may be the data dir's parent, which the embedded PostgreSQL's user must enter.
  await mkdir(dirname(source.file), { recursive: true });
  // `wx`: two servers starting together must not each write a key of their own.
  try {
    await writeFile(source.file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(source.file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadSecretKeys(source);
    throw new SecretKeyError(`Cannot write the secret key file ${source.file}: ${(err as Error).message}.`);
  }
  return { keys: new SecretKeys(key, old), generated: true };
}

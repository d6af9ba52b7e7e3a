import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Db } from './db/index.ts';
import { createAccount } from './store/accounts.ts';

export const userConfigPath = () =>
  join(process.env.BUILDD_CONFIG_DIR ?? join(homedir(), '.buildd'), 'config.json');

/**
 * On first start (no account at all) creates the admin account. Its key is `adminKey` when given
 * (BUILDD_ADMIN_KEY, for automation), a new random one otherwise. Returns the plain key only when it was
 * just created, so the caller can show it exactly once.
 */
export async function ensureAdmin(
  db: Db,
  adminKey: string | undefined,
): Promise<{ created: boolean; apiKey?: string }> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(8675310)');
    const any = await tx.query('SELECT 1 FROM accounts LIMIT 1');
    if (any.length > 0) return { created: false };
    const { apiKey } = await createAccount(tx, { name: 'admin', type: 'user', level: 'admin' }, adminKey);
    return { created: true, apiKey };
  });
}

/** Writes `{ server, apiKey }` for the CLI and agent (mode 0600), unless the file already exists. */
export async function writeUserConfig(
  server: string,
  apiKey: string,
  path = userConfigPath(),
): Promise<boolean> {
  if (existsSync(path)) return false;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify({ server, apiKey }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600);
  return true;
}

import type { Db } from '../db/index.ts';
import { createApiKey } from './accounts.ts';

const localAccountName = 'local agent';

/**
 * A fresh key for the member account the local agent of `npm start` runs under (made on first use). The
 * previous key is revoked, since only its hash was ever stored.
 */
export async function issueLocalAgentKey(db: Db): Promise<string> {
  return db.transaction(async (tx) => {
    let account = (
      await tx.query<{ id: string }>('SELECT id FROM accounts WHERE name = $1 LIMIT 1', [localAccountName])
    )[0];
    if (!account) {
      account = (
        await tx.query<{ id: string }>(
          `INSERT INTO accounts (id, name, type, level) VALUES ('acc_local_agent', $1, 'user', 'member') RETURNING id`,
          [localAccountName],
        )
      )[0]!;
    }
    await tx.query(`UPDATE api_keys SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL`, [
      account.id,
    ]);
    return (await createApiKey(tx, account.id, 'user', 'local agent')).apiKey;
  });
}

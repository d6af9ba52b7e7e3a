import type { Logger } from 'pino';
import type { Db } from './db/index.ts';
import { createApiKey } from './store/accounts.ts';

const localAccountName = 'local agent';

/**
 * The newcomer's first run: when Claude credentials are in the environment, `npm start` also runs one
 * agent in this process, under an account of its own, so a task created through the API runs end to end.
 * Without credentials it says once how to add them and serves anyway.
 */
export async function startLocalAgent(
  db: Db,
  serverUrl: string,
  dataDir: string,
  log: Logger,
): Promise<{ stop(): Promise<void> } | undefined> {
  if (!process.env.CLAUDE_CODE_OAUTH_TOKEN && !process.env.ANTHROPIC_API_KEY) {
    log.info(
      'no Claude credentials in the environment, so no local agent runs: set CLAUDE_CODE_OAUTH_TOKEN ' +
        '(seat-based) or ANTHROPIC_API_KEY (pay-per-token) and restart, or start buildd-agent elsewhere',
    );
    return undefined;
  }
  const apiKey = await db.transaction(async (tx) => {
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
    // A fresh key each start; the previous one is revoked, since only its hash was ever stored.
    await tx.query(`UPDATE api_keys SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL`, [
      account.id,
    ]);
    return (await createApiKey(tx, account.id, 'user', 'local agent')).apiKey;
  });
  const agent = await import('@buildd/agent').catch(() => undefined);
  if (!agent || typeof agent.startAgent !== 'function') {
    log.warn('the local agent package is not available; run buildd-agent separately');
    return undefined;
  }
  const running = agent.startAgent({ server: serverUrl, apiKey, maxTasks: 1, name: 'local', dataDir });
  running.done.catch((err: unknown) => log.error({ err: (err as Error).message }, 'the local agent stopped'));
  log.info('a local agent runs tasks in this process (one at a time)');
  return running;
}

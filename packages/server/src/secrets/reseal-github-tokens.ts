import type { Logger } from 'pino';
import type { Queryable } from '../db/index.ts';
import { listSealedGithubTokens, resealGithubToken } from '../store/workspace-github.ts';
import type { SecretKeys } from './secret-keys.ts';

/**
 * Key rotation: at start, every workspace token sealed with an older key (BUILDD_SECRET_KEYS_OLD) is sealed
 * again with the current one, so the old key can be dropped at the next start. A token no key here opens is
 * left as it is and named in the log: the admin sets it again (PATCH the workspace's githubToken).
 */
export async function resealGithubTokens(db: Queryable, keys: SecretKeys, log: Logger): Promise<void> {
  let resealed = 0;
  for (const { id, sealed } of await listSealedGithubTokens(db)) {
    if (!keys.isStale(sealed)) continue;
    try {
      await resealGithubToken(db, id, sealed, keys.seal(keys.open(sealed)));
      resealed++;
    } catch (err) {
      log.warn(
        { workspace: id, err: (err as Error).message },
        "a workspace's GitHub token cannot be decrypted with this server's keys; set it again",
      );
    }
  }
  if (resealed > 0) log.info({ workspaces: resealed }, 'GitHub tokens encrypted again with the current key');
}

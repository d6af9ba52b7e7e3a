import type { Queryable } from '../db/index.ts';

/** What an open stream or channel may still see: is its key valid, is its account an admin, its grants. */
export interface KeyAccess {
  keyId: string;
  accountId: string;
  admin: boolean;
  /** Restricted workspaces the account holds a grant in (either grant lets it see their tasks). */
  granted: string[];
}

/**
 * The current access of several keys in one query (the streams' periodic re-check): a revoked key or a
 * deleted account is simply absent from the answer.
 */
export async function accessOfKeys(db: Queryable, keyIds: string[]): Promise<KeyAccess[]> {
  return db.query<KeyAccess>(
    `SELECT k.id AS "keyId", a.id AS "accountId", a.level = 'admin' AS admin,
            ARRAY(SELECT aw.workspace_id FROM account_workspaces aw
                   WHERE aw.account_id = a.id AND (aw.can_claim OR aw.can_create)) AS granted
       FROM api_keys k JOIN accounts a ON a.id = k.account_id
      WHERE k.id = ANY($1::text[]) AND k.revoked_at IS NULL`,
    [keyIds],
  );
}

/** Whether each of these workspaces exists, by id, with its access. */
export async function workspaceAccessOf(
  db: Queryable,
  ids: string[],
): Promise<Array<{ id: string; access: 'open' | 'restricted' }>> {
  return db.query('SELECT id, access FROM workspaces WHERE id = ANY($1::text[])', [ids]);
}

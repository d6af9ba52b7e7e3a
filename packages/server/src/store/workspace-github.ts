import type { Queryable } from '../db/index.ts';

/** The GitHub side of a workspace: the `owner/name` its config names, if any, and its sealed token. */
export async function readWorkspaceGithub(
  db: Queryable,
  workspaceId: string,
): Promise<{ repo: string | undefined; tokenSealed: string | null }> {
  const rows = await db.query<{ repo: string | null; github_token_sealed: string | null }>(
    `SELECT config->>'githubRepo' AS repo, github_token_sealed FROM workspaces WHERE id = $1`,
    [workspaceId],
  );
  return { repo: rows[0]?.repo ?? undefined, tokenSealed: rows[0]?.github_token_sealed ?? null };
}

/** Every workspace's sealed GitHub token (key rotation re-seals them). */
export async function listSealedGithubTokens(db: Queryable): Promise<{ id: string; sealed: string }[]> {
  return db.query(
    'SELECT id, github_token_sealed AS sealed FROM workspaces WHERE github_token_sealed IS NOT NULL ORDER BY id',
  );
}

/** Replaces a sealed token with the same token sealed again, unless it changed meanwhile. */
export async function resealGithubToken(
  db: Queryable,
  id: string,
  before: string,
  after: string,
): Promise<void> {
  await db.query(
    'UPDATE workspaces SET github_token_sealed = $3 WHERE id = $1 AND github_token_sealed = $2',
    [id, before, after],
  );
}

import type { Queryable } from '../db/index.ts';

/** The `owner/name` GitHub repository a workspace's config names, if any. */
export async function readWorkspaceGithubRepo(
  db: Queryable,
  workspaceId: string,
): Promise<string | undefined> {
  const rows = await db.query<{ repo: string | null }>(
    `SELECT config->>'githubRepo' AS repo FROM workspaces WHERE id = $1`,
    [workspaceId],
  );
  return rows[0]?.repo ?? undefined;
}

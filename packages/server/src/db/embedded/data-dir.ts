import { firstBlockedFolder, postgresUser } from './os-user.ts';

/** Where a root-run buildd keeps its embedded database when the postgres user cannot enter root's home. */
export const rootDataDir = '/var/lib/buildd/postgres';

/**
 * The data dir to use for the default `~/.buildd/postgres`. As root, PostgreSQL runs as the `postgres` user,
 * which cannot enter a private home such as /root: the database then lives in /var/lib/buildd/postgres.
 */
export async function resolveDefaultDataDir(dataDir: string): Promise<string> {
  const user = await postgresUser();
  return (await firstBlockedFolder(dataDir, user)) ? rootDataDir : dataDir;
}

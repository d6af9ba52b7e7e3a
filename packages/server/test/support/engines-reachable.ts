import pg from 'pg';

export const postgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let postgresReachable: Promise<boolean> | undefined;

/** Whether the system PostgreSQL leg can run. In CI (BUILDD_REQUIRE_POSTGRES=1) a missing server is an error. */
export function hasPostgres(): Promise<boolean> {
  postgresReachable ??= (async () => {
    const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch (err) {
      if (process.env.BUILDD_REQUIRE_POSTGRES === '1') {
        throw new Error(
          `PostgreSQL is required (BUILDD_REQUIRE_POSTGRES=1) but ${postgresUrl} is unreachable: ${(err as Error).message}`,
        );
      }
      return false;
    }
  })();
  return postgresReachable;
}

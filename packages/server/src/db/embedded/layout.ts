import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What buildd keeps in an embedded data dir:
 *   buildd-embedded.json  how to reach the cluster (generated password, superuser, database), mode 0600
 *   server.pid            the buildd-server that runs it (one at a time)
 *   pgdata/               PostgreSQL's own data directory, its socket and its log
 */
export interface EmbeddedLayout {
  dataDir: string;
  marker: string;
  lock: string;
  pgdata: string;
  logFile: string;
  confFile: string;
}

export function embeddedLayout(dataDir: string): EmbeddedLayout {
  const pgdata = join(dataDir, 'pgdata');
  return {
    dataDir,
    marker: join(dataDir, 'buildd-embedded.json'),
    lock: join(dataDir, 'server.pid'),
    pgdata,
    logFile: join(pgdata, 'buildd-postgres.log'),
    confFile: join(pgdata, 'buildd.conf'),
  };
}

/** The marker file's content. `initialised` turns true once the cluster and its database exist. */
export interface EmbeddedMarker {
  format: 1;
  superuser: string;
  password: string;
  database: string;
  initialised: boolean;
}

export async function readMarker(layout: EmbeddedLayout): Promise<EmbeddedMarker | undefined> {
  const text = await readFile(layout.marker, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return JSON.parse(text) as EmbeddedMarker;
}

/** How a client reaches a running cluster: its Unix socket, or 127.0.0.1 and a port (see postmaster.pid). */
export interface Endpoint {
  host: string;
  port: number;
}

/** The endpoint of the postmaster that runs on `pgdata` now, read from its postmaster.pid. */
export async function runningEndpoint(layout: EmbeddedLayout): Promise<Endpoint | undefined> {
  const text = await readFile(join(layout.pgdata, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  // Lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
  const lines = text.split('\n');
  const port = Number(lines[3]);
  const socketDir = lines[4]?.trim();
  const listen = lines[5]?.trim();
  if (!Number.isInteger(port)) return undefined;
  if (socketDir) return { host: socketDir, port };
  if (listen) return { host: listen === '*' ? '127.0.0.1' : listen, port };
  return undefined;
}

/** A `postgresql://` URL for `database` on `endpoint` (a socket folder goes in the `host` parameter). */
export function connectionUrl(
  marker: EmbeddedMarker,
  endpoint: Endpoint,
  database = marker.database,
): string {
  const auth = `${encodeURIComponent(marker.superuser)}:${encodeURIComponent(marker.password)}`;
  if (endpoint.host.startsWith('/')) {
    return `postgresql://${auth}@localhost:${endpoint.port}/${database}?host=${encodeURIComponent(endpoint.host)}`;
  }
  return `postgresql://${auth}@${endpoint.host}:${endpoint.port}/${database}`;
}

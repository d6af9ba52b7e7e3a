import type { Log } from '../log.ts';
import type { BuilddClient } from './client.ts';
import { ServerRequestError } from './request-error.ts';

/**
 * Turns `--workspace` values into workspace ids. Ids (`ws-…`) pass as they are; names are looked up
 * in `GET /api/workspaces`. An unknown name is an error (a typo would otherwise claim nothing,
 * silently). If the server cannot be asked now, names pass through: the claim accepts names too.
 */
export async function resolveWorkspaces(
  client: BuilddClient,
  wanted: readonly string[],
  log: Log,
): Promise<string[]> {
  const names = wanted.filter((w) => !w.startsWith('ws-'));
  if (names.length === 0) return [...wanted];
  const byName = new Map<string, string>();
  try {
    let cursor: string | undefined;
    do {
      const page = await client.listWorkspaces(cursor);
      for (const ws of page.items) byName.set(ws.name, ws.id);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  } catch (error) {
    if (error instanceof ServerRequestError && error.failure === 'fatal') throw error;
    log('warn', 'cannot list workspaces; sending names as given', { error });
    return [...wanted];
  }
  return wanted.map((w) => {
    if (w.startsWith('ws-')) return w;
    const id = byName.get(w);
    if (!id)
      throw new Error(`workspace '${w}' does not exist or this account cannot see it: check --workspace`);
    return id;
  });
}

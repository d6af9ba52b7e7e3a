import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The agent's id, kept in `<dataDir>/agent-id` so a restarted agent is the same agent on the
 * dashboard and its spooled reports still belong to it.
 */
export async function loadAgentId(dataDir: string): Promise<string> {
  const path = join(dataDir, 'agent-id');
  try {
    const id = (await readFile(path, 'utf8')).trim();
    if (id) return id;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const id = `agent-${randomUUID()}`;
  await writeFile(path, `${id}\n`);
  return id;
}

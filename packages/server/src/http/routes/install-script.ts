import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';

// In a checkout the script is the repository's deploy/install-agent.sh; an installed server carries the
// copy its build put in dist/.
const candidates = [
  new URL('../../../../../deploy/install-agent.sh', import.meta.url),
  new URL('../../../dist/install-agent.sh', import.meta.url),
];

async function readScript(): Promise<string | undefined> {
  for (const url of candidates) {
    const text = await readFile(fileURLToPath(url), 'utf8').catch(() => undefined);
    if (text !== undefined) return text;
  }
  return undefined;
}

/**
 * `GET /install-agent.sh`: the agent's install script, so a machine that can reach the server installs
 * the agent with `curl -fsSL $BUILDD_SERVER/install-agent.sh | bash` (the spec's Coder and GitHub Actions
 * recipes). It needs no key: it is the same public script as in the repository.
 */
export function installScriptRoutes() {
  const r = new Hono<AppEnv>();
  let script: Promise<string | undefined> | undefined;
  r.get('/install-agent.sh', async (c) => {
    script ??= readScript();
    const text = await script;
    if (text === undefined) return c.text('install-agent.sh is not part of this installation\n', 404);
    return c.body(text, 200, { 'content-type': 'text/x-shellscript; charset=utf-8' });
  });
  return r;
}

import { accessSync, constants } from 'node:fs';
import { arch, platform } from 'node:os';
import { delimiter, join } from 'node:path';

/** Whether an executable called `name` is on `path` — a `which`, without spawning anything. */
export function onPath(name: string, path: string | undefined): boolean {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * What this machine offers to tasks with `requiredCapabilities`: `node`, `node-<major>`, the tools
 * found on PATH (`git`, `python3`, `docker`), the OS and CPU (`linux`, `x64`), plus the operator's
 * extra `--capability` values. Cheap on purpose: it runs at every start.
 */
export function detectCapabilities(
  env: Record<string, string | undefined>,
  extra: readonly string[] = [],
): string[] {
  const found = ['node', `node-${process.versions.node.split('.')[0]}`];
  for (const tool of ['git', 'python3', 'docker']) {
    if (onPath(tool, env.PATH)) found.push(tool);
  }
  found.push(platform(), arch());
  return [...new Set([...found, ...extra])];
}

import { execFile } from 'node:child_process';
import { arch, platform } from 'node:os';

/** Runs `command args…` with `path` as PATH; resolves with its stdout, or null when it fails or is missing. */
function probe(command: string, args: string[], path: string | undefined): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(command, args, { env: { PATH: path ?? '' }, timeout: 10_000 }, (error, stdout, stderr) =>
      resolve(error ? null : `${stdout}${stderr}`),
    );
  });
}

/** `major.minor` of the first version number in `text` (`Python 3.11.2` → `3.11`). */
function majorMinor(text: string): string | null {
  const match = /(\d+)\.(\d+)/.exec(text);
  return match ? `${match[1]}.${match[2]}` : null;
}

/**
 * What this machine offers to tasks with `requiredCapabilities`, each found by running it: `node` and
 * `node-<major>`; `git`; `python3` and `python-<major.minor>`; `docker` only when a daemon answers
 * (a client without one cannot run a container); the OS and CPU (`linux`, `x64`); plus the
 * operator's extra `--capability` values. The probes run side by side, once at start.
 */
export async function detectCapabilities(
  env: Record<string, string | undefined>,
  extra: readonly string[] = [],
): Promise<string[]> {
  const path = env.PATH;
  const [git, python, docker] = await Promise.all([
    probe('git', ['--version'], path),
    probe('python3', ['--version'], path),
    probe('docker', ['info', '--format', '{{.ServerVersion}}'], path),
  ]);
  const found = ['node', `node-${process.versions.node.split('.')[0]}`];
  if (git) found.push('git');
  const pythonVersion = python ? majorMinor(python) : null;
  if (python) found.push('python3');
  if (pythonVersion) found.push(`python-${pythonVersion}`);
  if (docker?.trim()) found.push('docker');
  found.push(platform(), arch());
  return [...new Set([...found, ...extra])];
}

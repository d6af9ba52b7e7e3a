import { execFileSync } from 'node:child_process';
import { platform } from 'node:os';

/** Whether this machine can run a task's tools in the SDK's sandbox, and if not, what to do. */
export type SandboxCheck = { available: true } | { available: false; problem: string };

const install =
  'install bubblewrap and socat (Debian/Ubuntu: `apt-get install -y bubblewrap socat`; Fedora: `dnf install bubblewrap socat`)';

/**
 * Runs what the SDK's sandbox runs on Linux: a bubblewrap with its own network namespace (a `bwrap`
 * that exists but may not create namespaces here, e.g. in an unprivileged container, is no sandbox),
 * and socat, which carries the sandbox's proxied network. Takes well under a second.
 */
export function checkSandbox(path = process.env.PATH): SandboxCheck {
  if (platform() !== 'linux') {
    return { available: false, problem: `the sandbox of buildd-agent needs Linux (this is ${platform()})` };
  }
  const run = (command: string, args: string[]) =>
    execFileSync(command, args, {
      env: { PATH: path ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10_000,
    });
  try {
    run('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--unshare-net', '--unshare-pid', 'true']);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    const why = missing
      ? 'bubblewrap (bwrap) is not installed'
      : `bubblewrap cannot run here (${stderrOf(error)})`;
    return { available: false, problem: `${why}: ${install}` };
  }
  try {
    run('socat', ['-V']);
  } catch {
    return { available: false, problem: `socat is not installed: ${install}` };
  }
  return { available: true };
}

function stderrOf(error: unknown): string {
  const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
  return stderr.split('\n')[0] || (error as Error).message;
}

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { track, trackDataDir, untrack } from '../packages/server/test/support/leaks.ts';

const serverBin = fileURLToPath(new URL('../packages/server/bin/buildd-server.mjs', import.meta.url));

/** A free loopback port (bound and released at once). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

export interface SpawnedServer {
  url: string;
  port: number;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `buildd-server` as its own process (its own core) and waits until /healthz answers.
 * `opts.port` reuses a port (a restart on the same data dir); by default a free one is picked.
 * `opts.host` binds another address than 127.0.0.1 (a veth's, for an agent in a network namespace).
 */
export async function spawnServer(
  env: Record<string, string>,
  args: string[] = [],
  nodeArgs: string[] = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  opts: { port?: number; host?: string } = {},
): Promise<SpawnedServer> {
  const port = opts.port ?? (await freePort());
  const host = opts.host ?? '127.0.0.1';
  const child = spawn(
    process.execPath,
    [...nodeArgs, serverBin, '--port', String(port), '--host', host, '--no-local-agent', ...args],
    {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://${host}:${port}`;
  const handle = {};
  track(handle, `buildd-server pid ${child.pid} on ${url}`, async () => {
    child.kill('SIGKILL');
  });
  child.once('exit', () => untrack(handle));
  if (env.BUILDD_DATA_DIR) trackDataDir(env.BUILDD_DATA_DIR);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`buildd-server exited with ${child.exitCode ?? child.signalCode}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('buildd-server did not start within 60 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    child,
    async stop(signal = 'SIGTERM') {
      // exitCode stays null after a kill by signal: check both, or this would wait forever.
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
  };
}

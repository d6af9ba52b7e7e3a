import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { leanClient } from './http-client.ts';
import { cpuMs } from './proc.ts';

export interface FloorFigures {
  lifecyclesPerSecond: number;
  /** CPU of the HTTP server process and of this client process, per lifecycle. */
  serverCpuMs: number;
  clientCpuMs: number;
}

/**
 * The HTTP floor: the same three calls per lifecycle (claim, PATCH running, PATCH completed) from the same
 * client with the same concurrency, against a process that answers them with buildd's stack and answer
 * sizes but does no work (bench/http-floor-server.mjs). What HTTP alone costs on this machine.
 */
export async function measureHttpFloor(lifecycles: number, clients = 32): Promise<FloorFigures> {
  const script = fileURLToPath(new URL('./http-floor-server.mjs', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      child.once('exit', (code) => reject(new Error(`the HTTP floor server exited with ${code}`)));
    });
    const api = leanClient(`http://127.0.0.1:${port}`, 'none');
    let left = lifecycles;
    const cpu0 = cpuMs(child.pid ?? 0);
    const client0 = process.cpuUsage();
    const began = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        while (left > 0) {
          left--;
          const claim = await api.post('/api/workers/claim', {
            maxTasks: 1,
            authType: 'api',
            agentId: `b-${i}`,
          });
          const id = claim.body.workers[0].id as string;
          await api.patch(`/api/workers/${id}`, { status: 'running' });
          await api.patch(`/api/workers/${id}`, { status: 'completed', summary: 'ok' });
        }
      }),
    );
    const seconds = (performance.now() - began) / 1000;
    const client = process.cpuUsage(client0);
    const serverCpu = cpuMs(child.pid ?? 0) - cpu0;
    api.close();
    return {
      lifecyclesPerSecond: Math.round(lifecycles / seconds),
      serverCpuMs: Number((serverCpu / lifecycles).toFixed(2)),
      clientCpuMs: Number(((client.user + client.system) / 1000 / lifecycles).toFixed(2)),
    };
  } finally {
    child.kill('SIGTERM');
  }
}

// A child process of bench/live-connections.ts: opens SSE viewers of one task and counts the `progress` events
// they get, on its own event loop and core, so that the load generator's work does not slow the run it watches.
// Parent → child over IPC: { url, keys, viewers, perKey } once, then 'count'; child → parent: { ready, refused }
// and { delivered }.
import { request } from 'node:http';

interface Start {
  url: string;
  keys: string[];
  viewers: number;
  perKey: number;
}

function countingViewer(url: string, key: string) {
  let progress = 0;
  let status = 0;
  const req = request(url, { headers: { authorization: `Bearer ${key}` }, agent: false });
  const ready = new Promise<void>((resolve) => {
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      const marker = 'event: progress\n';
      let tail = '';
      res.on('data', (chunk: string) => {
        const text = tail + chunk;
        progress += text.split(marker).length - 1;
        // Too short to hold a whole marker (never counted twice), long enough for one cut by the chunking.
        tail = text.slice(-(marker.length - 1));
      });
      res.on('error', () => {});
      resolve();
    });
    req.on('error', () => resolve());
  });
  req.end();
  return { ready, status: () => status, progress: () => progress };
}

process.once('message', async (start: Start) => {
  const clients: ReturnType<typeof countingViewer>[] = [];
  for (let i = 0; i < start.viewers; i += 50) {
    const batch = Array.from({ length: Math.min(50, start.viewers - i) }, (_, j) =>
      countingViewer(start.url, start.keys[Math.floor((i + j) / start.perKey)] ?? ''),
    );
    await Promise.all(batch.map((c) => c.ready));
    clients.push(...batch);
  }
  process.send?.({ ready: true, refused: clients.filter((c) => c.status() !== 200).length });
  process.on('message', (message) => {
    if (message === 'count') process.send?.({ delivered: clients.reduce((n, c) => n + c.progress(), 0) });
  });
});

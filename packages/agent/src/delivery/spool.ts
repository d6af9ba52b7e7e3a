import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PatchWorkerBody, WorkerEventInput } from '@buildd/protocol';

/** One thing to deliver to the server, in order. */
export type SpoolEntry =
  | { kind: 'events'; events: WorkerEventInput[] }
  | { kind: 'patch'; body: PatchWorkerBody; final: boolean };

/** Control lines: `ack` = this many more entries were delivered; `seq` = the last seq used so far. */
type Line = SpoolEntry | { kind: 'ack'; count: number } | { kind: 'seq'; last: number };

/** Above this size a fully delivered spool file is rewritten as one `seq` line. */
const compactBytes = 4 * 1024 * 1024;

/** The directory holding every worker's spool. */
export function spoolDir(dataDir: string): string {
  return join(dataDir, 'spool');
}

/**
 * The durable outbox of one worker: `<dataDir>/spool/<workerId>.jsonl`, append-only JSON lines,
 * fsync'd, so events and the final PATCH survive a server outage and an agent restart. Also
 * remembers the last event `seq`, so numbering continues after a restart and the server can drop
 * duplicates by `(worker, seq)`.
 */
export class Spool {
  #pending: SpoolEntry[];
  #lastSeq: number;
  #finished: boolean;
  #writing: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly workerId: string,
    readonly path: string,
    pending: SpoolEntry[],
    lastSeq: number,
  ) {
    this.#pending = pending;
    this.#lastSeq = lastSeq;
    this.#finished = pending.some((e) => e.kind === 'patch' && e.final);
  }

  /** Opens (or starts) the spool of `workerId`, reading back whatever an earlier run left. */
  static async open(dataDir: string, workerId: string): Promise<Spool> {
    const dir = spoolDir(dataDir);
    // Owner only: the spool holds tool output.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const path = join(dir, `${encodeURIComponent(workerId)}.jsonl`);
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const entries: SpoolEntry[] = [];
    let delivered = 0;
    let lastSeq = 0;
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // a line torn by a crash mid-write: everything before it is intact
      }
      if (line.kind === 'ack') delivered += line.count;
      else if (line.kind === 'seq') lastSeq = Math.max(lastSeq, line.last);
      else {
        entries.push(line);
        if (line.kind === 'events') for (const e of line.events) lastSeq = Math.max(lastSeq, e.seq);
      }
    }
    return new Spool(workerId, path, entries.slice(delivered), lastSeq);
  }

  /** Worker ids that have a spool file under `dataDir` (left by this or an earlier run). */
  static async list(dataDir: string): Promise<string[]> {
    const names = await readdir(spoolDir(dataDir)).catch(() => [] as string[]);
    return names
      .filter((n) => n.endsWith('.jsonl'))
      .map((n) => decodeURIComponent(n.slice(0, -'.jsonl'.length)));
  }

  /** The next event sequence number (1, 2, …), monotonic across restarts. */
  nextSeq(): number {
    this.#lastSeq += 1;
    return this.#lastSeq;
  }

  /** Entries not yet acknowledged by the server, oldest first. */
  pending(): readonly SpoolEntry[] {
    return this.#pending;
  }

  /** Whether the final PATCH has been written (the run is over). */
  get finished(): boolean {
    return this.#finished;
  }

  /** Appends entries durably (written and fsync'd before this resolves). */
  append(...entries: SpoolEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    this.#pending.push(...entries);
    if (entries.some((e) => e.kind === 'patch' && e.final)) this.#finished = true;
    return this.#write(entries, true);
  }

  /** Records that the oldest `count` pending entries were delivered. */
  async ack(count: number): Promise<void> {
    this.#pending.splice(0, count);
    await this.#write([{ kind: 'ack', count }], false);
    if (this.#pending.length === 0) await this.#compact();
  }

  /** Deletes the spool file: everything in it has been delivered, or its worker is gone. */
  async remove(): Promise<void> {
    this.#pending = [];
    await this.#writing;
    await rm(this.path, { force: true });
  }

  #write(lines: Line[], durable: boolean): Promise<void> {
    const text = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
    const next = this.#writing.then(async () => {
      const file = await open(this.path, 'a', 0o600);
      try {
        await file.write(text);
        // Acks are not synced: losing one only re-sends entries the server ignores as duplicates.
        if (durable) await file.datasync();
      } finally {
        await file.close();
      }
    });
    this.#writing = next.catch(() => {});
    return next;
  }

  #compact(): Promise<void> {
    // Queued on the write chain, so no append can land in the old file while it is replaced.
    const next = this.#writing.then(async () => {
      const size = await stat(this.path).then(
        (s) => s.size,
        () => 0,
      );
      if (size < compactBytes || this.#pending.length > 0) return;
      const tmp = `${this.path}.tmp`;
      await writeFile(tmp, `${JSON.stringify({ kind: 'seq', last: this.#lastSeq } satisfies Line)}\n`, {
        mode: 0o600,
      });
      await rename(tmp, this.path);
    });
    this.#writing = next.catch(() => {});
    return next;
  }
}

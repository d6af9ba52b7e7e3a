/**
 * The agent's local content-addressed store of artifacts (`<dataDir>/artifacts/<sha256>`), with a note of
 * what each task already received: the same bytes are never uploaded twice for one task (a retried upload
 * after a restart is skipped), and bytes fetched once are read from here afterwards.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactUpload } from '../server/client.ts';

/** SHA-256 of bytes, lower-case hex (the server's artifact address). */
export const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export class ArtifactCache {
  readonly #dir: string;

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'artifacts');
  }

  /** Keeps bytes under their hash (written once: a second put of the same bytes costs a stat). */
  async put(bytes: Uint8Array): Promise<string> {
    const sha256 = sha256Of(bytes);
    const path = join(this.#dir, sha256);
    if (!(await exists(path))) {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      const partial = `${path}.${process.pid}.partial`;
      await writeFile(partial, bytes, { mode: 0o600 });
      await rename(partial, path);
    }
    return sha256;
  }

  /** The bytes under a hash, or undefined when this agent never had them (or they were damaged). */
  async get(sha256: string): Promise<Buffer | undefined> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    const bytes = await readFile(join(this.#dir, sha256)).catch(() => undefined);
    return bytes && sha256Of(bytes) === sha256 ? bytes : undefined;
  }

  /**
   * Uploads an artifact through `send` unless this task already got these bytes under this name; caches
   * the bytes either way. Answers whether anything was sent.
   */
  async upload(
    taskId: string,
    artifact: Omit<ArtifactUpload, 'sha256'>,
    send: (a: ArtifactUpload) => Promise<unknown>,
  ): Promise<{ sha256: string; sent: boolean }> {
    const sha256 = await this.put(artifact.bytes);
    const note = join(
      this.#dir,
      'sent',
      `${taskId.replace(/[^\w-]/g, '_')}.${sha256Of(Buffer.from(artifact.name))}.${sha256}`,
    );
    if (await exists(note)) return { sha256, sent: false };
    await send({ ...artifact, sha256 });
    await mkdir(join(this.#dir, 'sent'), { recursive: true, mode: 0o700 });
    await writeFile(note, '', { mode: 0o600 });
    return { sha256, sent: true };
  }
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

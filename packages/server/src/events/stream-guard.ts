import type { Caller } from '../caller.ts';
import type { Db } from '../db/index.ts';
import { ApiError } from '../errors.ts';
import { accessOfKeys, type KeyAccess, workspaceAccessOf } from '../store/stream-access.ts';

/** An open SSE stream or agent channel, as the guard sees it. */
export interface Guarded {
  keyId: string;
  /** A stream of one workspace's data (a task's stream): it ends when the workspace is no longer visible. */
  workspaceId?: string;
  /** Ends the stream or the socket; called once at most. */
  close(reason: 'revoked' | 'forbidden' | 'shutdown'): void;
}

export interface GuardSettings {
  /** How often open streams and channels re-check their key and grants: the key cache's lifetime. */
  recheckMs: number;
  /** Open SSE streams one key may hold on this server process. */
  maxStreamsPerKey: number;
}

/**
 * Keeps permissions true on long-lived connections. Every `recheckMs`, ONE query reads the current access of
 * every key that holds a stream or a channel: a revoked key (or a deleted account) has its streams and
 * channels closed, a stream of a workspace its account no longer sees ends, and feeds filter with the
 * fresh grants. It also caps the SSE streams per key (per server process).
 */
export class StreamGuard {
  private readonly byKey = new Map<string, Set<Guarded>>();
  private readonly streamsOfKey = new Map<string, number>();
  private readonly access = new Map<string, KeyAccess>();
  private readonly workspaces = new Map<string, 'open' | 'restricted'>();
  private readonly timer: NodeJS.Timeout;
  private checking = false;

  constructor(
    private readonly db: Db,
    readonly settings: GuardSettings,
  ) {
    this.timer = setInterval(() => void this.recheck().catch(() => {}), settings.recheckMs);
    this.timer.unref();
  }

  /**
   * Admits one more SSE stream for the caller's key, or throws 429 `stream_limit`. Call `release` when the
   * stream ends.
   */
  async admitStream(caller: Caller): Promise<{ release: () => void }> {
    const open = this.streamsOfKey.get(caller.keyId) ?? 0;
    const max = this.settings.maxStreamsPerKey;
    if (open >= max) {
      throw new ApiError(
        'stream_limit',
        `This API key already has ${open} open streams on this server (the limit is ${max}); close one first.`,
        { limit: max, current: open, retryAfterSeconds: 5 },
      );
    }
    this.streamsOfKey.set(caller.keyId, open + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.streamsOfKey.get(caller.keyId) ?? 1) - 1;
      if (left > 0) this.streamsOfKey.set(caller.keyId, left);
      else this.streamsOfKey.delete(caller.keyId);
    };
    try {
      await this.refreshKeys([caller.keyId]);
    } catch (err) {
      release();
      throw err;
    }
    return { release };
  }

  /** Watches a stream or channel until the returned function is called. */
  watch(g: Guarded): () => void {
    const set = this.byKey.get(g.keyId) ?? new Set<Guarded>();
    this.byKey.set(g.keyId, set);
    set.add(g);
    return () => {
      set.delete(g);
      // The key's access stays until the next re-check: another stream of the key may be starting.
      if (set.size === 0) this.byKey.delete(g.keyId);
    };
  }

  /** Whether the key may see the workspace's tasks now (as of the last re-check). */
  maySeeWorkspace(keyId: string, workspaceId: string): boolean {
    const a = this.access.get(keyId);
    if (!a) return false;
    if (a.admin) return true;
    const access = this.workspaces.get(workspaceId);
    // Unknown (created since the last look and not yet resolved): say no rather than leak a restricted one.
    if (access === undefined) return false;
    return access === 'open' || a.granted.includes(workspaceId);
  }

  /** Whether the key may see an agent of this account: its own, or any for an admin. */
  maySeeAccount(keyId: string, accountId: string): boolean {
    const a = this.access.get(keyId);
    return a !== undefined && (a.admin || a.accountId === accountId);
  }

  /** Learns the access of workspaces not seen yet (new ones) before their changes are filtered. */
  async learnWorkspaces(ids: Iterable<string>): Promise<void> {
    const unknown = [...new Set(ids)].filter((id) => !this.workspaces.has(id));
    if (unknown.length === 0) return;
    for (const w of await workspaceAccessOf(this.db, unknown)) this.workspaces.set(w.id, w.access);
  }

  /** One round of re-checks (the timer's; tests and shutdown call it directly). */
  async recheck(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (const keyId of this.access.keys()) {
        if (!this.byKey.has(keyId) && !this.streamsOfKey.has(keyId)) this.access.delete(keyId);
      }
      if (this.byKey.size === 0) return;
      await this.refreshKeys([...this.byKey.keys()]);
      // Swapped in whole, so that no stream sees an empty map while the query runs. The workspaces of the
      // streams watched are asked too: the reader learns workspaces from the changes it reads, and it reads
      // none while nobody listens, so a task stream's workspace may be new here.
      const watched = [...this.byKey.values()].flatMap((set) => [...set].flatMap((g) => g.workspaceId ?? []));
      const fresh = await workspaceAccessOf(this.db, [...new Set([...this.workspaces.keys(), ...watched])]);
      this.workspaces.clear();
      for (const w of fresh) this.workspaces.set(w.id, w.access);
      for (const [keyId, set] of this.byKey) {
        const valid = this.access.has(keyId);
        for (const g of [...set]) {
          if (!valid) g.close('revoked');
          else if (g.workspaceId && !this.maySeeWorkspace(keyId, g.workspaceId)) g.close('forbidden');
        }
      }
    } finally {
      this.checking = false;
    }
  }

  private async refreshKeys(keyIds: string[]): Promise<void> {
    const rows = await accessOfKeys(this.db, keyIds);
    for (const id of keyIds) this.access.delete(id);
    for (const row of rows) this.access.set(row.keyId, row);
  }

  /** Closes everything still open (server shutdown). */
  close(): void {
    clearInterval(this.timer);
    for (const set of this.byKey.values()) for (const g of [...set]) g.close('shutdown');
    this.byKey.clear();
  }
}

import type { Db } from '../db/index.ts';
import type { WorkerEventRow } from '../db/rows.ts';
import {
  type ChangePosition,
  type ChangeRow,
  changeHead,
  changesAfter,
  eventsOfTasks,
} from '../store/changes.ts';
import { eventsOfTask } from '../store/tasks.ts';
import type { Bus } from './bus.ts';
import type { StreamGuard } from './stream-guard.ts';

/** Orders two change-log positions. */
export function comparePositions(a: ChangePosition, b: ChangePosition): number {
  const tx = BigInt(a.tx) - BigInt(b.tx);
  if (tx !== 0n) return tx < 0n ? -1 : 1;
  const id = BigInt(a.id) - BigInt(b.id);
  return id === 0n ? 0 : id < 0n ? -1 : 1;
}

/** A `GET /api/stream` client: what it wants and where it stands. */
export interface FeedSubscriber {
  keyId: string;
  accountId: string;
  workspaceId: string | null;
  send(change: ChangeRow): void;
}

/** A `GET /api/tasks/:id/stream` client. */
export interface TaskSubscriber {
  taskId: string;
  sendEvent(row: WorkerEventRow): void;
  /** The task changed (the snapshot of the change log row). */
  sendTask(change: ChangeRow): void;
}

const batch = 500;

/**
 * The one reader of changes and progress per server process. Streams do not query on their own: NOTIFY hints
 * (one per transaction, see src/queue/change-log.sql) wake this reader, which reads each kind once for all of
 * its streams and hands every stream what it may see. A slow poll covers hints that were lost (a LISTEN
 * connection that dropped). A client that connects or resumes reads its own backlog once, then joins.
 */
export class LiveReader {
  private head: ChangePosition = { tx: '0', id: '0' };
  private readonly feeds = new Set<{
    sub: FeedSubscriber;
    from: ChangePosition;
    buffer: ChangeRow[] | null;
  }>();
  private readonly tasks = new Map<string, { last: number | null; subs: Set<TaskEntry> }>();
  private readonly wokenTasks = new Set<string>();
  private changesRun: Promise<void> | null = null;
  private changesAgain = false;
  private eventsRun: Promise<void> | null = null;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = 25;
  private readonly offs: Array<() => void> = [];
  private poll: NodeJS.Timeout | undefined;
  /** Read rounds so far (tests and the bench look at them). */
  rounds = 0;

  constructor(
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly guard: StreamGuard,
    private readonly pollMs = 5000,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  async start(): Promise<void> {
    this.head = await changeHead(this.db);
    this.offs.push(this.bus.on('buildd_changes', () => this.wakeChanges()));
    this.offs.push(
      this.bus.on('buildd_events', (taskId) => {
        if (this.tasks.has(taskId)) this.wakeEvents([taskId]);
      }),
    );
    this.poll = setInterval(() => {
      this.wakeChanges();
      this.wakeEvents([...this.tasks.keys()]);
    }, this.pollMs);
    this.poll.unref();
  }

  /** The position a feed without `Last-Event-ID` starts from. */
  get position(): ChangePosition {
    return this.head;
  }

  /**
   * Joins a feed from `from`: the backlog up to the reader's position first (its own query), then live
   * changes. Returns the function that leaves.
   */
  async joinFeed(sub: FeedSubscriber, from: ChangePosition): Promise<() => void> {
    const entry = { sub, from, buffer: [] as ChangeRow[] | null };
    this.feeds.add(entry);
    const upTo = this.head;
    try {
      let at = from;
      while (comparePositions(at, upTo) < 0) {
        const { rows } = await changesAfter(this.db, at, batch);
        const mine = rows.filter((r) => comparePositions(r, upTo) <= 0);
        await this.guard.learnWorkspaces(mine.flatMap((r) => (r.workspace_id ? [r.workspace_id] : [])));
        for (const row of mine) if (this.visible(sub, row)) sub.send(row);
        if (mine.length < batch || mine.length === 0) break;
        at = mine.at(-1)!;
      }
      const buffered = entry.buffer ?? [];
      entry.buffer = null;
      for (const row of buffered)
        if (comparePositions(row, from) > 0 && this.visible(sub, row)) sub.send(row);
    } catch (err) {
      this.feeds.delete(entry);
      throw err;
    }
    return () => this.feeds.delete(entry);
  }

  /** Joins a task's progress after event `after`: its backlog first, then live events. */
  async joinTask(sub: TaskSubscriber, after: number): Promise<() => void> {
    const watched = this.tasks.get(sub.taskId) ?? { last: null, subs: new Set<TaskEntry>() };
    this.tasks.set(sub.taskId, watched);
    const entry: TaskEntry = { sub, cursor: after, buffer: [] };
    watched.subs.add(entry);
    const leave = () => {
      watched.subs.delete(entry);
      if (watched.subs.size === 0 && this.tasks.get(sub.taskId) === watched) this.tasks.delete(sub.taskId);
    };
    try {
      for (;;) {
        const rows = await eventsOfTask(this.db, sub.taskId, entry.cursor, batch);
        for (const row of rows) deliverEvent(entry, row, true);
        if (rows.length < batch) break;
      }
      const buffered = entry.buffer ?? [];
      entry.buffer = null;
      for (const row of buffered) deliverEvent(entry, row, false);
      if (watched.last === null || watched.last < entry.cursor) watched.last = entry.cursor;
    } catch (err) {
      leave();
      throw err;
    }
    // Anything written while the backlog was read arrives with the next shared read, which this asks for.
    this.wakeEvents([sub.taskId]);
    return leave;
  }

  private visible(sub: FeedSubscriber, row: ChangeRow): boolean {
    if (row.kind === 'task') {
      if (!row.workspace_id) return false;
      if (sub.workspaceId && row.workspace_id !== sub.workspaceId) return false;
      return this.guard.maySeeWorkspace(sub.keyId, row.workspace_id);
    }
    if (sub.workspaceId) return false;
    return row.account_id !== null && this.guard.maySeeAccount(sub.keyId, row.account_id);
  }

  private wakeChanges(): void {
    if (this.changesRun) {
      this.changesAgain = true;
      return;
    }
    this.changesRun = this.readChanges()
      .catch(this.onError)
      .finally(() => {
        this.changesRun = null;
      });
  }

  private async readChanges(): Promise<void> {
    do {
      this.changesAgain = false;
      this.rounds++;
      if (this.feeds.size === 0 && this.tasks.size === 0) {
        // Nobody to hand rows to (an agents-only server): only the position moves on, without reading and
        // parsing every snapshot; a feed that joins reads its backlog itself. One that joined meanwhile
        // gets a full read instead.
        const newest = await changeHead(this.db);
        if (this.feeds.size === 0 && this.tasks.size === 0) {
          if (comparePositions(newest, this.head) > 0) this.head = newest;
        } else this.changesAgain = true;
        continue;
      }
      const { rows, pending } = await changesAfter(this.db, this.head, batch);
      if (rows.length === batch) this.changesAgain = true;
      else if (pending && !this.retry) {
        // A transaction that is still running holds back rows after it; look again soon, then less often.
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.wakeChanges();
        }, this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 1000);
      } else if (!pending) this.retryMs = 25;
      if (rows.length === 0) continue;
      await this.guard.learnWorkspaces(rows.flatMap((r) => (r.workspace_id ? [r.workspace_id] : [])));
      // The progress written before a task's change goes out before it (a final state ends task streams).
      const changedTasks = [
        ...new Set(
          rows.flatMap((r) => (r.kind === 'task' && this.tasks.has(taskIdOf(r)) ? [taskIdOf(r)] : [])),
        ),
      ];
      if (changedTasks.length > 0) await this.readEvents(changedTasks);
      for (const row of rows) {
        this.head = row;
        for (const f of this.feeds) {
          if (f.buffer) f.buffer.push(row);
          else if (comparePositions(row, f.from) > 0 && this.visible(f.sub, row)) f.sub.send(row);
        }
        if (row.kind === 'task') {
          for (const e of this.tasks.get(taskIdOf(row))?.subs ?? []) e.sub.sendTask(row);
        }
      }
    } while (this.changesAgain);
  }

  private wakeEvents(taskIds: string[]): void {
    for (const id of taskIds) this.wokenTasks.add(id);
    if (this.eventsRun || this.wokenTasks.size === 0) return;
    this.eventsRun = (async () => {
      while (this.wokenTasks.size > 0) {
        const ids = [...this.wokenTasks];
        this.wokenTasks.clear();
        await this.readEvents(ids);
      }
    })()
      .catch(this.onError)
      .finally(() => {
        this.eventsRun = null;
      });
  }

  /** One query for the new progress of several watched tasks; a task with a full batch is read again. */
  private async readEvents(taskIds: string[]): Promise<void> {
    const cursors = taskIds.flatMap((taskId) => {
      const last = this.tasks.get(taskId)?.last;
      return last === null || last === undefined ? [] : [{ taskId, after: last }];
    });
    if (cursors.length === 0) return;
    this.rounds++;
    const rows = await eventsOfTasks(this.db, cursors, batch);
    const counts = new Map<string, number>();
    for (const row of rows as Array<WorkerEventRow & { task_id: string }>) {
      counts.set(row.task_id, (counts.get(row.task_id) ?? 0) + 1);
      const watched = this.tasks.get(row.task_id);
      if (!watched) continue;
      if (watched.last !== null && row.id > watched.last) watched.last = row.id;
      for (const e of watched.subs) deliverEvent(e, row, false);
    }
    for (const [taskId, n] of counts) if (n === batch) this.wokenTasks.add(taskId);
  }

  /** Streams open now (for the bench and tests). */
  get size(): { feeds: number; taskStreams: number } {
    let taskStreams = 0;
    for (const t of this.tasks.values()) taskStreams += t.subs.size;
    return { feeds: this.feeds.size, taskStreams };
  }

  async stop(): Promise<void> {
    for (const off of this.offs) off();
    clearInterval(this.poll);
    clearTimeout(this.retry);
    await Promise.allSettled([this.changesRun, this.eventsRun]);
    this.feeds.clear();
    this.tasks.clear();
  }
}

interface TaskEntry {
  sub: TaskSubscriber;
  cursor: number;
  buffer: WorkerEventRow[] | null;
}

/** Hands an event to a task stream once, in order: buffered while its backlog is read. */
function deliverEvent(e: TaskEntry, row: WorkerEventRow, backlog: boolean): void {
  if (e.buffer && !backlog) {
    e.buffer.push(row);
    return;
  }
  if (row.id <= e.cursor) return;
  e.cursor = row.id;
  e.sub.sendEvent(row);
}

const taskIdOf = (row: ChangeRow): string => String(row.data.id);

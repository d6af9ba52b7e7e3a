import type { Db } from '../db/index.ts';
import { agentSlots, type ClaimProfile, takeHintLeases } from '../queue/hint-leases.ts';
import type { Bus } from './bus.ts';

/** An agent of this replica waiting for work: a push channel, or a long-poll claim. */
export interface Claimer {
  accountId: string;
  /** Absent for an older agent that names none. */
  agentId: string | undefined;
  /** A long-poll claim says what it asked for; a channel's agent is looked up in its `agents` row. */
  request?: ClaimProfile & { free: number };
  /** Tells the agent to claim (a channel message, or the long poll claiming again). */
  wake(): void;
}

interface Entry extends Claimer {
  /** Not woken again before this (ms since epoch): it was just told, and its claim may be on its way. */
  wokenUntil: number;
  /** When it last became idle: the longest idle are woken first. */
  idleSince: number;
}

export interface HintSettings {
  /** How long a hinted task is left to the agents woken for it before it may be hinted again. */
  leaseMs: number;
  /** How long a woken agent is left alone (its claim is on its way), unless its claim is seen sooner. */
  wokenMs: number;
  /** Profiles (account × capabilities × workspace filter) served per round; the rest wait for the next. */
  maxGroupsPerRound: number;
}

export const defaultHintSettings: HintSettings = { leaseMs: 3000, wokenMs: 1000, maxGroupsPerRound: 32 };

/** Slots counted per agent: an agent with more claims them all in one request anyway. */
const maxSlotsPerAgent = 10;

/**
 * Wakes about as many idle agents as there are claimable tasks, instead of every agent on every change (docs/live.md).
 * On each `buildd_tasks` hint the replica groups its own idle agents by what they may claim, and for each
 * group takes hint leases (queue/hint-leases.ts) on as many claimable tasks as the group has free slots; it
 * wakes agents of the group for the tasks it got. A task another replica took is left to that replica's
 * agents, so one task wakes one agent across all replicas. A hint that led nowhere (the agent's claim came back
 * empty, it went away) ends with its lease: a round at the lease's end hints what is still pending. Agents
 * the database knows nothing about yet (no claim, no agent id) are woken on every hint, as before.
 */
export class HintDispatcher {
  private readonly entries = new Set<Entry>();
  private running = false;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly off: () => void;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly settings: HintSettings = defaultHintSettings,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    const offTasks = bus.on('buildd_tasks', () => {
      this.hintsSeen += 1;
      this.schedule();
    });
    const offAgents = bus.on('buildd_agent_wake', (payload) => this.wakeLongPollOf(payload));
    this.off = () => {
      offTasks();
      offAgents();
    };
  }

  /** How many `buildd_tasks` hints this process has had: a long poll notes it before its claim. */
  hintsSeen = 0;

  /** Adds an idle agent; the function answered removes it. */
  add(claimer: Claimer): () => void {
    const entry: Entry = { ...claimer, wokenUntil: 0, idleSince: Date.now() };
    this.entries.add(entry);
    return () => this.entries.delete(entry);
  }

  /**
   * A long poll's wait: resolves when this claimer is woken, after `ms`, or when `signal` aborts; at once if a
   * hint came since `hintsSeenBefore` (read before its claim), whose round ran before this claimer was here.
   */
  waitForHint(
    claimer: Omit<Claimer, 'wake'>,
    hintsSeenBefore: number,
    ms: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.hintsSeen !== hintsSeenBefore) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        remove();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const remove = this.add({ ...claimer, wake: done });
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * The agent's claim reached this replica: it is no longer on its way, so it counts as idle again (with what
   * its claim got, if anything: the next round reads its free slots).
   */
  claimed(accountId: string, agentId: string | undefined): void {
    if (agentId === undefined) return;
    for (const e of this.entries) if (e.accountId === accountId && e.agentId === agentId) e.wokenUntil = 0;
  }

  /** Rounds left to serve the groups one round could not (more than `maxGroupsPerRound`), after a hint. */
  private sweepsLeft = 0;
  private fresh = false;

  /**
   * Runs a round now, or once more after the one in progress. `fresh`: tasks may have become claimable (a
   * hint, a backoff's end), so groups beyond one round's share get rounds of their own; a retry is not fresh.
   */
  schedule(fresh = true): void {
    if (this.stopped) return;
    if (fresh) this.fresh = true;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      do {
        this.again = false;
        await this.round().catch(this.onError);
      } while (this.again && !this.stopped);
      this.running = false;
    })();
  }

  private async round(): Promise<void> {
    const now = Date.now();
    const idle = [...this.entries].filter((e) => e.wokenUntil <= now);
    if (idle.length === 0) return;
    // An agent in a long poll is woken through it; its channel would only add a second claim.
    const polling = new Set(idle.filter((e) => e.request).map((e) => `${e.accountId}\u0000${e.agentId}`));
    const channels = idle.filter((e) => !e.request && !polling.has(`${e.accountId}\u0000${e.agentId}`));
    const named = channels.filter((e): e is Entry & { agentId: string } => e.agentId !== undefined);
    const slots = await agentSlots(this.db, named);
    const slotOf = new Map(slots.map((s) => [`${s.accountId}\u0000${s.agentId}`, s]));
    const groups = new Map<
      string,
      { profile: ClaimProfile; members: Array<{ entry: Entry; free: number }> }
    >();
    const join = (entry: Entry, profile: ClaimProfile, free: number) => {
      if (free <= 0) return;
      const key = JSON.stringify([
        profile.accountId,
        [...profile.capabilities].sort(),
        [...profile.workspaces].sort(),
      ]);
      const group = groups.get(key) ?? { profile, members: [] };
      group.members.push({ entry, free: Math.min(free, maxSlotsPerAgent) });
      groups.set(key, group);
    };
    for (const e of idle) {
      if (e.request) {
        join(e, e.request, e.request.free);
        continue;
      }
      if (polling.has(`${e.accountId}\u0000${e.agentId}`)) continue;
      const s = slotOf.get(`${e.accountId}\u0000${e.agentId}`);
      // Never claimed (or no agent id): what it may claim is unknown, so it hears every hint, as before.
      if (!s) this.wakeEntry(e, 100);
      else
        join(e, { accountId: s.accountId, capabilities: s.capabilities, workspaces: s.workspaces }, s.free);
    }
    const order = shuffle([...groups.values()]).slice(0, this.settings.maxGroupsPerRound);
    const won = await takeHintLeases(
      this.db,
      order.map(({ profile, members }) => ({ profile, limit: members.reduce((n, m) => n + m.free, 0) })),
      this.settings.leaseMs / 1000,
    );
    let hinted = 0;
    order.forEach(({ members }, i) => {
      const tasks = won[i]?.length ?? 0;
      hinted += tasks;
      let covered = 0;
      for (const m of members.sort((a, b) => a.entry.idleSince - b.entry.idleSince)) {
        if (covered >= tasks) break;
        this.wakeEntry(m.entry, this.settings.wokenMs);
        // Behind a load balancer the agent's long poll may wait on another replica, and the agent claims
        // only once that poll returns: tell the replicas to wake it there.
        if (!m.entry.request && m.entry.agentId !== undefined) {
          void this.bus.publish('buildd_agent_wake', JSON.stringify([m.entry.accountId, m.entry.agentId]));
        }
        covered += m.free;
      }
    });
    // A hint that led nowhere ends with its lease; look again then for what is still pending.
    // More groups than one round serves: a few more rounds after a hint, not a round every lease for as long
    // as many agents are idle (10,000 idle agents made that a query of all their rows every 3 s).
    if (this.fresh) {
      this.fresh = false;
      this.sweepsLeft = Math.ceil(groups.size / Math.max(1, this.settings.maxGroupsPerRound)) - 1;
    }
    const unserved = groups.size > order.length && this.sweepsLeft-- > 0;
    if (hinted > 0 || unserved) this.retryAt(this.settings.leaseMs + 50);
  }

  /** Wakes this replica's long poll of an agent another replica hinted through its channel. */
  private wakeLongPollOf(payload: string): void {
    let who: unknown;
    try {
      who = JSON.parse(payload);
    } catch {
      return;
    }
    if (!Array.isArray(who)) return;
    const [accountId, agentId] = who;
    for (const e of this.entries) {
      if (e.request && e.accountId === accountId && e.agentId === agentId)
        this.wakeEntry(e, this.settings.wokenMs);
    }
  }

  private wakeEntry(e: Entry, forMs: number): void {
    const now = Date.now();
    e.wokenUntil = now + forMs;
    e.idleSince = now;
    e.wake();
  }

  private retryAt(ms: number): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule(false);
    }, ms);
    this.retryTimer.unref();
  }

  /** How many agents wait here (channels and long polls). */
  get size(): number {
    return this.entries.size;
  }

  stop(): void {
    this.stopped = true;
    this.off();
    clearTimeout(this.retryTimer);
    this.entries.clear();
  }
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}

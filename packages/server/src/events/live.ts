import type { Db } from '../db/index.ts';
import type { Bus } from './bus.ts';
import { defaultHintSettings, HintDispatcher, type HintSettings } from './hint-dispatch.ts';
import { LiveReader } from './live-reader.ts';
import { type GuardSettings, StreamGuard } from './stream-guard.ts';

export interface LiveSettings extends GuardSettings {
  keepAliveMs: number;
  lifetimeMs: number;
  /** The shared reader's safety-net poll, for hints that were lost. */
  pollMs: number;
  /** How `tasks_available` hints are targeted (events/hint-dispatch.ts). */
  hints: HintSettings;
}

export const defaultLiveSettings: LiveSettings = {
  recheckMs: 2000,
  maxStreamsPerKey: 32,
  keepAliveMs: 15_000,
  lifetimeMs: 30 * 60_000,
  pollMs: 5000,
  hints: defaultHintSettings,
};

/** The live side of one server process: the shared reader and the guard of open streams and channels. */
export interface Live {
  reader: LiveReader;
  guard: StreamGuard;
  /** The idle agents of this process (channels and long polls), woken as tasks become claimable. */
  hints: HintDispatcher;
  settings: LiveSettings;
  stop(): Promise<void>;
}

/** Starts the shared reader (after the bus) and the guard. */
export async function startLive(
  db: Db,
  bus: Bus,
  overrides: Partial<LiveSettings> = {},
  onError: (err: unknown) => void = () => {},
): Promise<Live> {
  const settings = { ...defaultLiveSettings, ...overrides };
  const guard = new StreamGuard(db, settings);
  const reader = new LiveReader(db, bus, guard, settings.pollMs, onError);
  await reader.start();
  const hints = new HintDispatcher(db, bus, settings.hints, onError);
  return {
    reader,
    guard,
    hints,
    settings,
    async stop() {
      hints.stop();
      guard.close();
      await reader.stop();
    },
  };
}

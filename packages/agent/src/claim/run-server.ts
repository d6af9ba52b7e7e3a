/**
 * What a run may ask of the server (`RunServer`), bound to one claimed worker: artifact uploads and
 * downloads through the local cache, questions to a person, and a person's messages into the running
 * session. Answers and messages come pushed over the agent channel (`receive`); a poll every `pollMs`
 * is the fallback for a push lost on a dropped socket.
 */
import type { AgentChannelMessage, ClaimedWorker, TaskMessage } from '@buildd/protocol';
import { ArtifactCache } from '../delivery/artifact-cache.ts';
import type { Log } from '../log.ts';
import type { Redact } from '../redact.ts';
import type { RunReporter, RunServer } from '../run/types.ts';
import type { BuilddClient } from '../server/client.ts';

/** How often a run asks the server for an answer or messages a push may have missed (`--poll-interval`). */
export const inputPollMs = 10_000;

/** Input pushed to one worker: `answer` and `message` channel messages. */
export type WorkerInput = Extract<AgentChannelMessage, { type: 'answer' | 'message' }>;

/** A worker's `RunServer`, plus `receive` for what the push channel brings it. */
export interface WorkerRunServer extends RunServer {
  receive(input: WorkerInput): void;
}

export function runServerFor(
  worker: ClaimedWorker,
  deps: {
    client: BuilddClient;
    dataDir: string;
    log: Log;
    reporter: RunReporter;
    pollMs?: number | undefined;
    redact?: Redact | undefined;
  },
): WorkerRunServer {
  const cache = new ArtifactCache(deps.dataDir);
  const { client, log, reporter } = deps;
  const pollMs = deps.pollMs ?? inputPollMs;
  const answers = new Map<string, string>();
  const answerWaiters = new Set<() => void>();
  const messages = new MessageFeed(worker.id, client, log, reporter);

  return {
    receive(input) {
      if (input.workerId !== worker.id) return;
      if (input.type === 'answer') {
        answers.set(input.questionId, input.text);
        for (const wake of answerWaiters) wake();
      } else {
        messages.take([{ id: input.id, text: input.text, createdAt: '' }]);
      }
    },
    async uploadArtifact(name, contentType, bytes) {
      // Text is redacted like every other thing a run reports (a transcript holds what the tools printed).
      const redacted =
        deps.redact && /^(text\/|application\/(x-ndjson|json))/.test(contentType)
          ? Buffer.from(deps.redact(Buffer.from(bytes).toString('utf8')))
          : bytes;
      try {
        const { sha256, sent } = await cache.upload(
          worker.taskId,
          { name, contentType, bytes: redacted },
          (a) => client.uploadArtifact(worker.id, a),
        );
        reporter.event('log', {
          level: 'info',
          message: `artifact ${name}`,
          sha256,
          bytes: redacted.length,
          sent,
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log('warn', 'could not upload an artifact', { name, error: message });
        reporter.event('log', { level: 'warn', message: `could not upload artifact ${name}: ${message}` });
      }
    },
    async downloadArtifact(sha256) {
      const cached = await cache.get(sha256);
      if (cached) return cached;
      const bytes = await client.downloadArtifact(sha256);
      if ((await cache.put(bytes)) !== sha256) throw new Error(`artifact ${sha256} arrived damaged`);
      return bytes;
    },
    async ask(question, signal) {
      const asked = await client.askQuestion(worker.id, question);
      reporter.event('status', { status: 'waiting_input', questionId: asked.id, question: question.text });
      log('info', 'waiting for an answer', { question: asked.id });
      const answer = await waitFor(
        async () => {
          const pushed = answers.get(asked.id);
          if (pushed !== undefined) return pushed;
          const seen = await client.readQuestion(worker.id).catch(() => undefined);
          return seen?.id === asked.id && seen.answer !== null ? seen.answer : undefined;
        },
        () => answers.get(asked.id),
        answerWaiters,
        pollMs,
        signal,
      );
      reporter.event('status', { status: 'running', questionId: asked.id, answered: true });
      return answer;
    },
    openInput(push) {
      messages.open(push);
      const timer = setInterval(() => void messages.poll(), pollMs);
      void messages.poll();
      return async () => {
        clearInterval(timer);
        messages.close();
        // Before the final report: a message the server still thinks untaken would become a follow-up.
        await messages.confirm();
      };
    },
  };
}

/**
 * A person's messages on their way into the session: each taken once (by id, whether pushed or polled),
 * and reported delivered only once the session took it, so one that comes too late stays with the server
 * (which makes it the task's follow-up).
 */
class MessageFeed {
  readonly #taken = new Set<string>();
  /** Taken into the session, not yet confirmed to the server. */
  readonly #unconfirmed = new Set<string>();
  /** Pushed before the session was open. */
  #early: TaskMessage[] = [];
  #push: ((text: string) => boolean) | null = null;

  constructor(
    private readonly workerId: string,
    private readonly client: BuilddClient,
    private readonly log: Log,
    private readonly reporter: RunReporter,
  ) {}

  open(push: (text: string) => boolean): void {
    this.#push = push;
    const early = this.#early;
    this.#early = [];
    this.take(early);
  }

  close(): void {
    this.#push = null;
  }

  take(items: TaskMessage[]): void {
    if (!this.#push) {
      this.#early.push(...items);
      return;
    }
    for (const m of items) {
      if (this.#taken.has(m.id)) continue;
      // Refused: the session's input has ended. Left unconfirmed, the server makes it a follow-up.
      if (!this.#push(`A person watching this task sends you a message:\n\n${m.text}`)) break;
      this.#taken.add(m.id);
      this.#unconfirmed.add(m.id);
      this.reporter.event('log', {
        level: 'info',
        message: 'a message from a person joined the session',
        id: m.id,
      });
    }
    void this.confirm();
  }

  async poll(): Promise<void> {
    const pending = await this.client.pendingMessages(this.workerId).catch(() => undefined);
    if (pending) this.take(pending.items);
  }

  /** Tells the server which messages the session took (again, for any a failed call left unconfirmed). */
  async confirm(): Promise<void> {
    const ids = [...this.#unconfirmed];
    if (ids.length === 0) return;
    try {
      await this.client.messagesDelivered(this.workerId, ids);
      for (const id of ids) this.#unconfirmed.delete(id);
    } catch (error) {
      // The next poll lists them again; they are not taken twice, and confirmed then.
      this.log('debug', 'could not confirm delivered messages', { error: String(error) });
    }
  }
}

/**
 * Resolves with the first value `check` (which may ask the server) or `peek` (local, after a push woke us)
 * finds; checks on every wake-up and every `pollMs`. Rejects when `signal` aborts.
 */
function waitFor<T>(
  check: () => Promise<T | undefined>,
  peek: () => T | undefined,
  waiters: Set<() => void>,
  pollMs: number,
  signal: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const stopped = () => new Error('the run was stopped while it waited for an answer');
    if (signal.aborted) return reject(stopped());
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      waiters.delete(wake);
      signal.removeEventListener('abort', abort);
      fn();
    };
    const wake = () => {
      const value = peek();
      if (value !== undefined) finish(() => resolve(value));
    };
    const abort = () => finish(() => reject(stopped()));
    const tick = async () => {
      const value = await check();
      if (done) return;
      if (value !== undefined) return finish(() => resolve(value));
      timer = setTimeout(() => void tick(), pollMs);
    };
    waiters.add(wake);
    signal.addEventListener('abort', abort, { once: true });
    // The first look is a local one (a push may have come already); the server is asked every `pollMs`.
    timer = setTimeout(() => void tick(), pollMs);
    wake();
  });
}

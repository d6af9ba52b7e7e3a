/**
 * What a run may ask of the server (`RunServer`), bound to one claimed worker: artifact uploads through
 * the local cache, and questions to a person with the answer polled for (the push channel only hints).
 */
import type { ClaimedWorker } from '@buildd/protocol';
import { ArtifactCache } from '../delivery/artifact-cache.ts';
import type { Log } from '../log.ts';
import type { RunReporter, RunServer } from '../run/types.ts';
import type { BuilddClient } from '../server/client.ts';

/** How often a waiting run asks the server for its answer. */
export const answerPollMs = 2_000;

export function runServerFor(
  worker: ClaimedWorker,
  deps: { client: BuilddClient; dataDir: string; log: Log; reporter: RunReporter; pollMs?: number },
): RunServer {
  const cache = new ArtifactCache(deps.dataDir);
  const { client, log, reporter } = deps;
  return {
    async uploadArtifact(name, contentType, bytes) {
      try {
        const { sha256, sent } = await cache.upload(worker.taskId, { name, contentType, bytes }, (a) =>
          client.uploadArtifact(worker.id, a),
        );
        reporter.event('log', {
          level: 'info',
          message: `artifact ${name}`,
          sha256,
          bytes: bytes.length,
          sent,
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log('warn', 'could not upload an artifact', { name, error: message });
        reporter.event('log', { level: 'warn', message: `could not upload artifact ${name}: ${message}` });
      }
    },
    async ask(question, signal) {
      const asked = await client.askQuestion(worker.id, question);
      reporter.event('status', { status: 'waiting_input', questionId: asked.id, question: question.text });
      log('info', 'waiting for an answer', { question: asked.id });
      for (;;) {
        await sleep(deps.pollMs ?? answerPollMs, signal);
        const seen = await client.readQuestion(worker.id).catch(() => undefined);
        if (seen?.id === asked.id && seen.answer !== null) {
          reporter.event('status', { status: 'running', questionId: asked.id, answered: true });
          return seen.answer;
        }
      }
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('the run was stopped while it waited for an answer'));
    const timer = setTimeout(done, ms);
    function done() {
      signal.removeEventListener('abort', stop);
      resolve();
    }
    function stop() {
      clearTimeout(timer);
      reject(new Error('the run was stopped while it waited for an answer'));
    }
    signal.addEventListener('abort', stop, { once: true });
  });
}

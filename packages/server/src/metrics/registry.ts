import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus metric the server exports, on a registry of its own (one per app, so tests that run
 * several servers in one process do not share counters). Counters are incremented where things happen;
 * the gauges (tasks by status, live workers, online agents) are read from the database at scrape time,
 * so every replica reports the same, whole-queue figures.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const metrics = {
    registry,
    httpRequests: new Counter({
      name: 'buildd_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    claims: new Counter({
      name: 'buildd_claims_total',
      help: 'Claim requests by outcome: claimed (at least one task handed out), empty, limit (429), error.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    claimedTasks: new Counter({
      name: 'buildd_claimed_tasks_total',
      help: 'Tasks handed out to agents (one worker each).',
      registers,
    }),
    claimSeconds: new Histogram({
      name: 'buildd_claim_duration_seconds',
      help: 'Time the claim statement took (without any long-poll wait), by outcome.',
      labelNames: ['outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    eventsIngested: new Counter({
      name: 'buildd_events_ingested_total',
      help: 'Worker progress events stored (replayed duplicates not counted).',
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'buildd_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by result (delivered, failed).',
      labelNames: ['result'] as const,
      registers,
    }),
    tasks: new Gauge({
      name: 'buildd_tasks',
      help: 'Tasks in the queue, by status.',
      labelNames: ['status'] as const,
      registers,
    }),
    liveWorkers: new Gauge({
      name: 'buildd_live_workers',
      help: 'Workers holding a lease, by status.',
      labelNames: ['status'] as const,
      registers,
    }),
    onlineAgents: new Gauge({
      name: 'buildd_online_agents',
      help: 'Agents heard from within the offline window.',
      registers,
    }),
  };
  // Labelled series exist from the start at 0, so a dashboard's rate() sees the first increase.
  for (const outcome of ['claimed', 'empty', 'limit', 'error']) metrics.claims.inc({ outcome }, 0);
  for (const result of ['delivered', 'failed']) metrics.webhookDeliveries.inc({ result }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Runs one claim, counting it and timing it by outcome; a limit answer (429) is an outcome, not an error. */
export async function observeClaim<T extends { claimed: unknown[] }>(
  metrics: Metrics,
  claim: () => Promise<T>,
): Promise<T> {
  const end = metrics.claimSeconds.startTimer();
  let outcome = 'error';
  try {
    const result = await claim();
    outcome = result.claimed.length > 0 ? 'claimed' : 'empty';
    metrics.claimedTasks.inc(result.claimed.length);
    return result;
  } catch (err) {
    if ((err as { status?: number }).status === 429) outcome = 'limit';
    throw err;
  } finally {
    end({ outcome });
    metrics.claims.inc({ outcome });
  }
}

/**
 * List prices for a live cost estimate while a run is in progress. The SDK reports the exact cost
 * only in its final `result`; the server's daily cost cap needs a running figure before that, so
 * the run prices each response's usage itself and replaces the estimate with the SDK's total at the end.
 */

/** USD per million tokens. */
interface Price {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

const sonnet: Price = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };

// Matched in order against the model id; the first hit wins. Unknown models are priced as Sonnet,
// which is also what Claude Code does for a model it has no row for.
const table: [RegExp, Price][] = [
  [/opus-4-[5-9]|opus-[5-9]/, { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 }],
  [/opus/, { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 }],
  [/haiku-4|haiku-[5-9]/, { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 }],
  [/3-5-haiku|haiku-3-5/, { input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1 }],
  [/haiku/, { input: 0.25, output: 1.25, cacheRead: 0.03, cacheWrite: 0.3 }],
  [/sonnet/, sonnet],
];

/** Token counts of one model response. */
export interface ResponseUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/** Estimated USD cost of one response of `model`. */
export function estimateCostUsd(model: string, usage: ResponseUsage): number {
  const price = table.find(([pattern]) => pattern.test(model))?.[1] ?? sonnet;
  return (
    (usage.input * price.input +
      usage.output * price.output +
      usage.cacheRead * price.cacheRead +
      usage.cacheWrite * price.cacheWrite) /
    1_000_000
  );
}

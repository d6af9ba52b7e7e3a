/**
 * Turns the SDK's message stream into buildd progress: events for the worker's log and cumulative
 * live figures (turns, tokens, cost) for the worker row. Live cost is an estimate from each
 * response's usage (see pricing.ts); the final `result` message replaces it with the SDK's figures.
 */
import { relative } from 'node:path';
import type {
  SDKMessage,
  SDKPartialAssistantMessage,
  SDKResultMessage,
} from '@anthropic-ai/claude-agent-sdk';
import { estimateCostUsd } from './pricing.ts';
import { type RunReporter, type RunTotals, truncate } from './types.ts';

const toolResultLimit = 2_000;
const textLimit = 8_000;

/** Consumes SDK messages one by one; read `totals`, `result` and `lastText` at the end. */
export class ProgressTracker {
  readonly totals: RunTotals = { turns: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, costUsd: 0 };
  result: SDKResultMessage | null = null;
  /** The last assistant text, a fallback summary when the result carries none. */
  lastText: string | null = null;
  /** Output tokens seen so far of the response currently streaming, per (sub)agent. */
  private readonly streaming = new Map<string, { model: string; output: number }>();

  constructor(
    private readonly reporter: RunReporter,
    private readonly cwd: string,
    private readonly model: string,
  ) {}

  /** Map one SDK message to events and progress. */
  handle(message: SDKMessage): void {
    switch (message.type) {
      case 'system':
        if (message.subtype === 'init') {
          this.reporter.event('status', {
            status: 'running',
            phase: 'sdk',
            model: message.model,
            claudeCodeVersion: message.claude_code_version,
            apiKeySource: message.apiKeySource,
          });
          this.reporter.progress({ status: 'running', currentAction: 'Thinking' });
        }
        return;
      case 'stream_event':
        this.onStreamEvent(message.event, message.parent_tool_use_id ?? 'main');
        return;
      case 'assistant':
        this.onAssistant(message.message.content);
        return;
      case 'user':
        this.onToolResults(message.message.content);
        return;
      case 'result':
        this.onResult(message);
        return;
      default:
        return;
    }
  }

  private onStreamEvent(event: SDKPartialAssistantMessage['event'], stream: string) {
    if (event.type === 'message_start') {
      const usage = event.message.usage;
      const model = event.message.model || this.model;
      const input = usage.input_tokens ?? 0;
      const cacheWrite = usage.cache_creation_input_tokens ?? 0;
      const cacheRead = usage.cache_read_input_tokens ?? 0;
      if (stream === 'main') this.totals.turns += 1;
      this.totals.inputTokens += input + cacheWrite;
      this.totals.cacheReadTokens += cacheRead;
      this.totals.costUsd += estimateCostUsd(model, { input, output: 0, cacheRead, cacheWrite });
      this.streaming.set(stream, { model, output: 0 });
    } else if (event.type === 'message_delta') {
      // The API reports the response's output tokens so far; count only the increase.
      const output = event.usage.output_tokens ?? 0;
      const current = this.streaming.get(stream) ?? { model: this.model, output: 0 };
      const added = Math.max(0, output - current.output);
      current.output = output;
      this.streaming.set(stream, current);
      this.totals.outputTokens += added;
      this.totals.costUsd += estimateCostUsd(current.model, {
        input: 0,
        output: added,
        cacheRead: 0,
        cacheWrite: 0,
      });
      this.reporter.progress({ ...this.totals });
      this.reporter.event('usage', { ...this.totals, estimated: true });
    }
  }

  private onAssistant(content: unknown) {
    if (!Array.isArray(content)) return;
    for (const block of content as Record<string, unknown>[]) {
      if (block.type === 'text' && typeof block.text === 'string' && block.text.trim() !== '') {
        this.lastText = block.text;
        this.reporter.event('assistant_text', { text: truncate(block.text, textLimit) });
      } else if (block.type === 'tool_use' && typeof block.name === 'string') {
        const summary = this.describeTool(block.input);
        this.reporter.event('tool_use', {
          id: block.id,
          name: block.name,
          summary,
          input: shorten(block.input),
        });
        this.reporter.progress({ currentAction: truncate(`${block.name} ${summary}`.trim(), 200) });
      }
    }
  }

  private onToolResults(content: unknown) {
    if (!Array.isArray(content)) return;
    for (const block of content as Record<string, unknown>[]) {
      if (block.type !== 'tool_result') continue;
      const text = Array.isArray(block.content)
        ? (block.content as { type?: string; text?: string }[]).map((c) => c.text ?? `[${c.type}]`).join('\n')
        : String(block.content ?? '');
      this.reporter.event('tool_result', {
        toolUseId: block.tool_use_id,
        isError: block.is_error === true,
        content: truncate(text, toolResultLimit),
      });
    }
    this.reporter.progress({ currentAction: 'Thinking' });
  }

  private onResult(result: SDKResultMessage) {
    this.result = result;
    if (result.subtype === 'success' && !result.is_error && result.result) this.lastText = result.result;
    // The result is authoritative, except the zeroed figures of a crash or startup-error result.
    const perModel = Object.values(result.modelUsage ?? {});
    const sum = (pick: (m: (typeof perModel)[number]) => number) => perModel.reduce((n, m) => n + pick(m), 0);
    const final: RunTotals = {
      turns: result.num_turns,
      inputTokens: sum((m) => m.inputTokens + m.cacheCreationInputTokens),
      outputTokens: sum((m) => m.outputTokens),
      cacheReadTokens: sum((m) => m.cacheReadInputTokens),
      costUsd: result.total_cost_usd,
    };
    for (const key of Object.keys(final) as (keyof RunTotals)[]) {
      if (final[key] > 0) this.totals[key] = final[key];
    }
    this.reporter.progress({ ...this.totals, currentAction: null });
    this.reporter.event('usage', { ...this.totals, final: true, durationMs: result.duration_ms });
  }

  /** One line saying what a tool call does, with paths relative to the worktree. */
  private describeTool(input: unknown): string {
    const fields = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
    const pick = ['command', 'file_path', 'notebook_path', 'pattern', 'url', 'query', 'description'].find(
      (k) => typeof fields[k] === 'string',
    );
    if (!pick) return '';
    let value = String(fields[pick]);
    if (pick.endsWith('path') && value.startsWith(this.cwd)) value = relative(this.cwd, value) || '.';
    return truncate(value.replace(/\s+/g, ' '), 300);
  }
}

/** The tool input with long strings cut, so a Write of a big file does not flood the event log. */
function shorten(input: unknown): unknown {
  if (typeof input === 'string') return truncate(input, 300);
  if (Array.isArray(input)) return input.slice(0, 20).map(shorten);
  if (input && typeof input === 'object') {
    return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, shorten(v)]));
  }
  return input;
}

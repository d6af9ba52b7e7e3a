/**
 * The streaming input of one SDK session (`query({ prompt: AsyncIterable<SDKUserMessage> })`): the task's
 * first message, then whatever a person sends while the run works. Claude Code takes a message that comes
 * mid-turn into that turn, and one that comes after a turn into a turn of its own; the input ends once a
 * turn has ended with every message taken, which ends the session.
 */
import { randomUUID } from 'node:crypto';
import type { SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';

export class SessionInput implements AsyncIterable<SDKUserMessage> {
  readonly #queue: SDKUserMessage[] = [];
  /** Messages handed to Claude Code that it has not started on yet (by uuid). */
  readonly #unstarted = new Set<string>();
  #wake: (() => void) | undefined;
  #closed = false;
  /** Whether this Claude Code reports when it takes a message (`command_lifecycle`); if not, one turn ends it. */
  #lifecycle = false;

  constructor(first: string) {
    this.push(first);
  }

  /** Adds a user message; false once the session's input has ended (the message was not taken). */
  push(text: string): boolean {
    if (this.#closed) return false;
    const uuid = randomUUID();
    this.#unstarted.add(uuid);
    this.#queue.push({
      type: 'user',
      message: { role: 'user', content: text },
      parent_tool_use_id: null,
      uuid,
    } as SDKUserMessage);
    this.#wake?.();
    return true;
  }

  /**
   * Follows the session's messages: a `command_lifecycle` says Claude Code started on a message; a `result`
   * ends a turn, and the input with it unless a message is still waiting for a turn of its own.
   */
  observe(message: { type: string; state?: unknown; command_uuid?: unknown }): void {
    if (message.type === 'command_lifecycle') {
      this.#lifecycle = true;
      if (message.state !== 'queued' && typeof message.command_uuid === 'string') {
        this.#unstarted.delete(message.command_uuid);
      }
    }
    if (message.type === 'result' && (!this.#lifecycle || this.#unstarted.size === 0)) this.close();
  }

  /** Ends the input: the session finishes its turn and ends. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SDKUserMessage> {
    for (;;) {
      const next = this.#queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }
}

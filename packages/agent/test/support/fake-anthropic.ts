/**
 * A scripted fake of the Anthropic Messages API for running the real Claude Agent SDK offline.
 *
 * The SDK's bundled Claude Code binary posts `POST /v1/messages?beta=true` (streamed) to
 * `ANTHROPIC_BASE_URL`. Each session (header `x-claude-code-session-id`) walks through its own script
 * of steps, one step per model request: a text answer ends the turn, a tool answer makes the CLI run a
 * real tool (Write/Edit/Read/Bash) and come back with the result. See shared/notes/claude-agent-sdk.md.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAbsolute, join } from 'node:path';

/** Token counts the fake reports for one answer; the CLI prices them, so cost is exact. */
export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

/** What a step may compute its tool input from. */
export interface StepContext {
  /** Worktree of the run, parsed from "Primary working directory: …" in the request (or ''). */
  cwd: string;
  /** The parsed request body. */
  body: Record<string, unknown>;
}

/** Options shared by all steps. */
export interface StepOptions {
  usage?: FakeUsage;
  /** Wait this long before answering (the CLI sees a slow model). */
  delayMs?: number;
}

/** One scripted answer of the fake. Build them with `text()`, `tool()`, `write()`, … */
export type Step =
  | ({ kind: 'text'; text: string } & StepOptions)
  | ({ kind: 'tool'; name: string; input: (ctx: StepContext) => Record<string, unknown> } & StepOptions)
  | ({ kind: 'error'; status: number; errorType: string; message: string } & StepOptions);

/** One request the fake received, for assertions. */
export interface RecordedRequest {
  at: number;
  method: string;
  url: string;
  sessionId: string | null;
  headers: IncomingHttpHeaders;
  /** Which credential header came: `x-api-key`, `bearer` (Authorization), or none. */
  auth: 'x-api-key' | 'bearer' | 'none';
  body: Record<string, unknown>;
  /** The step answered, or null when the script had run out (a default text was sent). */
  step: Step | null;
}

/** How to choose the steps of a session. */
export interface FakeAnthropicOptions {
  /** One script used by every session (each session walks it from the start). */
  script?: Step[];
  /** Pick a script per session, called on the session's first request. Wins over `script`. */
  scriptFor?: (sessionId: string, firstRequest: Record<string, unknown>) => Step[];
  /** Usage of steps that set none. Default: 100 input, 20 output tokens. */
  defaultUsage?: FakeUsage;
  /** The address to listen on (default 127.0.0.1), e.g. a veth's for an agent in a network namespace. */
  host?: string;
}

/** A running fake server. */
export interface FakeAnthropic {
  /** Base URL for `ANTHROPIC_BASE_URL`, e.g. `http://127.0.0.1:41234`. */
  url: string;
  requests: RecordedRequest[];
  /** Every `x-api-key` / Authorization value seen, to assert which credentials reached the fake. */
  credentialsSeen(): string[];
  close(): Promise<void>;
}

const defaultUsage: FakeUsage = { input_tokens: 100, output_tokens: 20 };

/** A final text answer (stop_reason end_turn). */
export function text(value: string, opts: StepOptions = {}): Step {
  return { kind: 'text', text: value, ...opts };
}

/** A tool_use answer with a fixed input or one computed from the run's working directory. */
export function tool(
  name: string,
  input: Record<string, unknown> | ((ctx: StepContext) => Record<string, unknown>),
  opts: StepOptions = {},
): Step {
  return { kind: 'tool', name, input: typeof input === 'function' ? input : () => input, ...opts };
}

/** `Write` of `path` (relative to the run's working directory unless absolute). */
export function write(path: string, content: string, opts: StepOptions = {}): Step {
  return tool('Write', (ctx) => ({ file_path: resolveIn(ctx, path), content }), opts);
}

/** `Read` of `path`; the CLI requires one before an Edit of an existing file. */
export function read(path: string, opts: StepOptions = {}): Step {
  return tool('Read', (ctx) => ({ file_path: resolveIn(ctx, path) }), opts);
}

/** `Edit` of `path`, replacing `oldString` with `newString`. */
export function edit(path: string, oldString: string, newString: string, opts: StepOptions = {}): Step {
  return tool(
    'Edit',
    (ctx) => ({ file_path: resolveIn(ctx, path), old_string: oldString, new_string: newString }),
    opts,
  );
}

/** `AskUserQuestion` with one question and its options (label → description), one answer to pick. */
export function askUser(
  question: string,
  header: string,
  options: Record<string, string>,
  opts: StepOptions = {},
): Step {
  return tool(
    'AskUserQuestion',
    {
      questions: [
        {
          question,
          header,
          options: Object.entries(options).map(([label, description]) => ({ label, description })),
          multiSelect: false,
        },
      ],
    },
    opts,
  );
}

/** `Bash` running `command` in the run's working directory. */
export function bash(command: string, opts: StepOptions = {}): Step {
  return tool('Bash', { command, description: 'scripted command' }, opts);
}

/** An HTTP error answer with an Anthropic-style error body (e.g. 401 authentication_error). */
export function httpError(status: number, message: string, opts: StepOptions = {}): Step {
  const errorType =
    status === 401 ? 'authentication_error' : status === 429 ? 'rate_limit_error' : 'api_error';
  return { kind: 'error', status, errorType, message, ...opts };
}

function resolveIn(ctx: StepContext, path: string): string {
  return isAbsolute(path) ? path : join(ctx.cwd, path);
}

/** Start the fake on 127.0.0.1 (or `options.host`) and an ephemeral port. */
export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  const sessions = new Map<string, { steps: Step[]; next: number }>();
  const fallbackUsage = options.defaultUsage ?? defaultUsage;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        // Not JSON: recorded with an empty body; the CLI only sends JSON.
      }
      const sessionHeader = req.headers['x-claude-code-session-id'];
      const sessionId = typeof sessionHeader === 'string' ? sessionHeader : null;
      const auth = req.headers['x-api-key'] ? 'x-api-key' : req.headers.authorization ? 'bearer' : 'none';
      const record: RecordedRequest = {
        at: Date.now(),
        method: req.method ?? '',
        url: req.url ?? '',
        sessionId,
        headers: req.headers,
        auth,
        body,
        step: null,
      };
      requests.push(record);
      if (req.method !== 'POST' || !(req.url ?? '').startsWith('/v1/messages')) {
        // count_tokens, HEAD /api/hello and the like: a harmless empty answer.
        res.writeHead(req.url?.includes('count_tokens') ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.url?.includes('count_tokens') ? { input_tokens: 10 } : {}));
        return;
      }
      const key = sessionId ?? '(none)';
      let session = sessions.get(key);
      if (!session) {
        const steps = options.scriptFor?.(key, body) ?? options.script ?? [];
        session = { steps, next: 0 };
        sessions.set(key, session);
      }
      const step = session.steps[session.next] ?? null;
      session.next += 1;
      record.step = step;
      const ctx: StepContext = { cwd: primaryDirectory(body), body };
      const delay = step?.delayMs ?? 0;
      const timer = setTimeout(
        () => answer(res, step ?? text('(script exhausted)'), ctx, body, fallbackUsage),
        delay,
      );
      res.on('close', () => clearTimeout(timer));
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host}:${port}`,
    requests,
    credentialsSeen() {
      const seen = new Set<string>();
      for (const r of requests) {
        for (const h of ['x-api-key', 'authorization'] as const) {
          const v = r.headers[h];
          if (typeof v === 'string') seen.add(v);
        }
      }
      return [...seen];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Find "Primary working directory: /abs/path" anywhere in the request (system prompt or messages). */
export function primaryDirectory(body: Record<string, unknown>): string {
  const match = /Primary working directory: (\S+)/.exec(JSON.stringify(body));
  return match?.[1]?.replace(/\\n.*$/, '') ?? '';
}

let blockCounter = 0;

function answer(
  res: ServerResponse,
  step: Step,
  ctx: StepContext,
  body: Record<string, unknown>,
  fallbackUsage: FakeUsage,
): void {
  if (res.destroyed) return;
  if (step.kind === 'error') {
    res.writeHead(step.status, { 'content-type': 'application/json', 'request-id': 'req_fake' });
    res.end(JSON.stringify({ type: 'error', error: { type: step.errorType, message: step.message } }));
    return;
  }
  const usage = step.usage ?? fallbackUsage;
  const model = typeof body.model === 'string' ? body.model : 'claude-sonnet-4-5';
  const id = `msg_fake_${++blockCounter}`;
  const block =
    step.kind === 'text'
      ? { start: { type: 'text', text: '' }, delta: { type: 'text_delta', text: step.text } }
      : {
          start: { type: 'tool_use', id: `toolu_fake_${blockCounter}`, name: step.name, input: {} },
          delta: { type: 'input_json_delta', partial_json: JSON.stringify(step.input(ctx)) },
        };
  const message = {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: {
      input_tokens: usage.input_tokens,
      output_tokens: 0,
      cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
      cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
    },
  };
  const events: [string, unknown][] = [
    ['message_start', { type: 'message_start', message }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: block.start }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: block.delta }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    [
      'message_delta',
      {
        type: 'message_delta',
        delta: { stop_reason: step.kind === 'text' ? 'end_turn' : 'tool_use', stop_sequence: null },
        usage: { output_tokens: usage.output_tokens },
      },
    ],
    ['message_stop', { type: 'message_stop' }],
  ];
  if (body.stream !== true) {
    // The CLI falls back to a non-streamed request after a broken stream: answer the whole message.
    const content = [
      { ...block.start, ...(step.kind === 'text' ? { text: step.text } : { input: step.input(ctx) }) },
    ];
    const stopReason = step.kind === 'text' ? 'end_turn' : 'tool_use';
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_fake' });
    res.end(
      JSON.stringify({
        ...message,
        content,
        stop_reason: stopReason,
        usage: { ...message.usage, output_tokens: usage.output_tokens },
      }),
    );
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'request-id': 'req_fake',
  });
  for (const [name, data] of events) res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
}

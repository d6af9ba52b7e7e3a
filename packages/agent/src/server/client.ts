import {
  Account,
  type AskQuestionBody,
  type ClaimBody,
  ClaimResponse,
  ErrorBody,
  LimitDetails,
  type PatchWorkerBody,
  PatchWorkerResponse,
  PendingMessages,
  type PostEventsBody,
  PostEventsResponse,
  page,
  Question,
  QuestionWithAnswer,
  UploadArtifactAnswer,
  Workspace,
} from '@buildd/protocol';
import { z } from 'zod';
import { agentVersion } from '../version.ts';
import { failureOfStatus, ServerRequestError } from './request-error.ts';

/** Options of `createClient`. */
export interface ClientOptions {
  server: string;
  apiKey: string;
  /** Timeout of every call except the claim long poll (which gets `waitSeconds` + 10 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** This agent's id, sent as `x-buildd-agent-id` so the server takes worker writes only from the holder. */
  agentId?: () => string | null;
}

/** What the agent needs from a PATCH answer: whether to stop the run, and why. */
export type PatchResult = { abort: false } | { abort: true; reason: string };

/** The buildd HTTP API as the agent uses it. Every method throws `ServerRequestError` on failure. */
export interface BuilddClient {
  claim(body: ClaimBody, signal?: AbortSignal): Promise<ClaimResponse>;
  patchWorker(workerId: string, body: PatchWorkerBody): Promise<PatchResult>;
  postEvents(workerId: string, body: PostEventsBody): Promise<{ lastSeq: number }>;
  me(): Promise<{ account: Account }>;
  listWorkspaces(cursor?: string): Promise<{ items: Workspace[]; nextCursor: string | null }>;
  /** Attaches bytes to the worker's task (the server stores them once, under their SHA-256). */
  uploadArtifact(workerId: string, artifact: ArtifactUpload): Promise<UploadArtifactAnswer>;
  /** Asks a person; the worker and its task become `waiting_input`. */
  askQuestion(workerId: string, body: AskQuestionBody): Promise<Question>;
  /** The worker's newest question, with its answer once a person gave one. */
  readQuestion(workerId: string): Promise<QuestionWithAnswer>;
  /** An artifact's bytes by SHA-256 (any artifact of a task this account may see). */
  downloadArtifact(sha256: string): Promise<Buffer>;
  /** Messages to the worker's task that no session has taken yet. */
  pendingMessages(workerId: string): Promise<PendingMessages>;
  /** Says the session took these messages. */
  messagesDelivered(workerId: string, ids: string[]): Promise<void>;
}

/** One artifact to upload. */
export interface ArtifactUpload {
  name: string;
  contentType: string;
  bytes: Uint8Array;
  sha256: string;
}

const MeResponse = z.object({ account: Account });
const WorkspacePage = page(Workspace);

/**
 * Creates the HTTP client. Every call has a timeout (a half-open socket must never hang the agent),
 * sends the buildd API key as a Bearer token — and nothing else secret: Claude credentials never
 * pass through here.
 */
export function createClient(options: ClientOptions): BuilddClient {
  const base = options.server.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 15_000;
  const doFetch = options.fetch ?? fetch;

  async function call<T extends z.ZodType>(
    method: string,
    path: string,
    schema: T,
    body?: unknown,
    opts: {
      timeoutMs?: number;
      signal?: AbortSignal;
      raw?: { bytes: Uint8Array; headers: Record<string, string> };
      /** Answer the body's bytes, unparsed (the schema is ignored). */
      bytes?: boolean;
    } = {},
  ): Promise<z.infer<T>> {
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? timeoutMs);
    const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
    const agentId = options.agentId?.() ?? null;
    let response: Response;
    let text: string;
    let bytes: Buffer | undefined;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        signal,
        headers: {
          authorization: `Bearer ${options.apiKey}`,
          accept: 'application/json',
          'user-agent': `buildd-agent/${agentVersion}`,
          ...(agentId ? { 'x-buildd-agent-id': agentId } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...opts.raw?.headers,
        },
        body: opts.raw
          ? new Blob([opts.raw.bytes as Uint8Array<ArrayBuffer>])
          : body === undefined
            ? undefined
            : JSON.stringify(body),
      });
      // Reading the body is under the same signal: a server that stalls mid-body still times out.
      if (opts.bytes && response.ok) {
        bytes = Buffer.from(await response.arrayBuffer());
        text = '';
      } else {
        text = await response.text();
      }
    } catch (error) {
      const why = timeout.aborted ? `timed out after ${opts.timeoutMs ?? timeoutMs} ms` : describe(error);
      throw new ServerRequestError({ failure: 'transient', message: `${method} ${path}: ${why}` });
    }
    if (bytes) return bytes as z.infer<T>;
    const json = parseJson(text);
    if (!response.ok) throw errorOf(method, path, response, json);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ServerRequestError({
        failure: 'protocol',
        message: `${method} ${path}: unexpected answer: ${parsed.error.message}`,
        status: response.status,
      });
    }
    return parsed.data;
  }

  return {
    claim: (body, signal) =>
      call('POST', '/api/workers/claim', ClaimResponse, body, {
        timeoutMs: ((body.waitSeconds ?? 0) + 10) * 1000,
        signal,
      }),
    async patchWorker(workerId, body) {
      const answer = await call(
        'PATCH',
        `/api/workers/${encodeURIComponent(workerId)}`,
        PatchWorkerResponse,
        body,
      );
      return answer.abort ? { abort: true, reason: answer.reason } : { abort: false };
    },
    postEvents: (workerId, body) =>
      call('POST', `/api/workers/${encodeURIComponent(workerId)}/events`, PostEventsResponse, body),
    me: () => call('GET', '/api/me', MeResponse),
    uploadArtifact: (workerId, a) =>
      call(
        'POST',
        `/api/workers/${encodeURIComponent(workerId)}/artifacts`,
        UploadArtifactAnswer,
        undefined,
        {
          timeoutMs: Math.max(timeoutMs, 60_000),
          raw: {
            bytes: a.bytes,
            headers: {
              'content-type': a.contentType,
              'x-artifact-name': a.name,
              'x-artifact-sha256': a.sha256,
            },
          },
        },
      ),
    askQuestion: (workerId, body) =>
      call('POST', `/api/workers/${encodeURIComponent(workerId)}/question`, Question, body),
    readQuestion: (workerId) =>
      call('GET', `/api/workers/${encodeURIComponent(workerId)}/question`, QuestionWithAnswer),
    downloadArtifact: (sha256) =>
      call('GET', `/api/artifacts/${encodeURIComponent(sha256)}`, z.unknown(), undefined, {
        timeoutMs: Math.max(timeoutMs, 60_000),
        bytes: true,
      }) as Promise<Buffer>,
    pendingMessages: (workerId) =>
      call('GET', `/api/workers/${encodeURIComponent(workerId)}/messages`, PendingMessages),
    async messagesDelivered(workerId, ids) {
      await call('POST', `/api/workers/${encodeURIComponent(workerId)}/messages/delivered`, z.unknown(), {
        ids,
      });
    },
    listWorkspaces: (cursor) =>
      call('GET', `/api/workspaces${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, WorkspacePage),
  };
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // undici hides the useful part (ECONNREFUSED, ECONNRESET…) in `cause`.
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

function errorOf(method: string, path: string, response: Response, json: unknown): ServerRequestError {
  const status = response.status;
  const body = ErrorBody.safeParse(json);
  const code = body.success ? body.data.error.code : undefined;
  const serverMessage = body.success ? body.data.error.message : `HTTP ${status}`;
  const failure = failureOfStatus(status);
  if (failure === 'fatal') {
    const what = status === 401 ? 'rejected the API key' : 'refused this account';
    return new ServerRequestError({
      failure,
      message: `the buildd server ${what} (${status}: ${serverMessage}): check BUILDD_API_KEY / --api-key (or ~/.buildd/config.json)`,
      status,
      code,
    });
  }
  if (failure === 'limit') {
    const details = body.success ? LimitDetails.safeParse(body.data.error.details) : undefined;
    const header = Number(response.headers.get('retry-after'));
    const retryAfter = details?.success
      ? details.data.retryAfterSeconds
      : Number.isFinite(header) && header >= 0
        ? header
        : 60;
    const resetsAt = details?.success ? details.data.resetsAt : undefined;
    return new ServerRequestError({
      failure,
      message: `${method} ${path}: ${serverMessage}`,
      status,
      code,
      retryAfterSeconds: retryAfter,
      resetsAt,
    });
  }
  return new ServerRequestError({ failure, message: `${method} ${path}: ${serverMessage}`, status, code });
}

import type { ErrorBody } from '@buildd/protocol';
import { apiVersionHeader, protocolVersion } from '@buildd/protocol/version';
import { type Connection, keyPrefix } from './config.ts';
import { CliError, exitCodes } from './exit-codes.ts';

/** API versions this CLI speaks; a server announcing another one gets its own sentence. */
export const supportedApiVersions: readonly string[] = [protocolVersion];

/** Options of one request. */
export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Names the feature in the sentence shown when the server has no such route yet. */
  feature?: string;
  /** Return the raw text instead of parsing JSON (diffs). */
  text?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

const unreachableReasons: Record<string, string> = {
  ECONNREFUSED: 'nothing is listening there',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
  EHOSTUNREACH: 'the host cannot be reached',
  ENETUNREACH: 'the network cannot be reached',
  ECONNRESET: 'the connection was reset',
  UND_ERR_SOCKET: 'the connection was closed',
};

/** The buildd HTTP API as the CLI and the MCP server use it; every failure is a `CliError` sentence. */
export class ApiClient {
  /** The API version the server last announced (null: it announced none). */
  apiVersion: string | null = null;

  constructor(readonly connection: Connection) {}

  get server(): string {
    return this.connection.server;
  }

  /** Sends one request; answers the parsed JSON body (or text with `text: true`). */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    if (opts.text) return (await res.text()) as T;
    const text = await res.text();
    if (res.status === 202 && text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw this.notBuildd(res.status);
    }
  }

  get<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, opts);
  }

  post<T>(path: string, body: unknown = {}, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body });
  }

  /** Opens a Server-Sent Events stream; the caller reads `res.body`. */
  async openStream(path: string, lastEventId: string | undefined, signal?: AbortSignal): Promise<Response> {
    return this.send('GET', path, {
      signal,
      timeoutMs: 0,
      headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    });
  }

  /** Sends a request and turns every failure into a sentence; answers only a 2xx response. */
  private async send(
    method: string,
    path: string,
    opts: RequestOptions & { headers?: Record<string, string> },
  ): Promise<Response> {
    const key = this.connection.apiKey;
    if (!key) {
      throw new CliError(
        'No API key: pass --api-key, set BUILDD_API_KEY or run `buildd login`.',
        exitCodes.auth,
      );
    }
    const url = new URL(`${this.server}${path}`);
    for (const [name, value] of Object.entries(opts.query ?? {})) {
      if (value !== undefined && value !== '') url.searchParams.set(name, String(value));
    }
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const signals = [opts.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
      });
    } catch (error) {
      if (opts.signal?.aborted) throw error;
      throw this.unreachable(error, timeoutMs);
    }
    this.checkVersion(res);
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    const body = parseErrorBody(text);
    if (!body) throw this.notBuildd(res.status);
    const { code, message } = body.error;
    if (res.status === 401 || code === 'unauthenticated') {
      throw new CliError(
        `The server at ${this.server} does not accept the API key ${keyPrefix(key)} (from the ${this.connection.keySource}): ${message} Run \`buildd login\` with a valid key.`,
        exitCodes.auth,
      );
    }
    if (res.status === 404 && opts.feature && /^No route for /.test(message)) {
      throw new CliError(
        `This server does not support ${opts.feature} yet: it needs a newer buildd server.`,
        exitCodes.unsupported,
      );
    }
    const retry = (body.error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    const suffix = res.status === 429 && typeof retry === 'number' ? ` (try again in ${retry} s)` : '';
    throw new CliError(`${message}${suffix}`, exitCodes.refused, res.status);
  }

  private checkVersion(res: Response): void {
    const version = res.headers.get(apiVersionHeader);
    this.apiVersion = version;
    if (version !== null && !supportedApiVersions.includes(version)) {
      throw new CliError(
        `The server at ${this.server} speaks buildd API version ${version}, but this buildd CLI speaks version ${supportedApiVersions.join(', ')}: use a buildd CLI that matches the server.`,
        exitCodes.incompatible,
      );
    }
  }

  private notBuildd(status: number): CliError {
    return new CliError(
      `The server at ${this.server} answered HTTP ${status} with something other than the buildd API: check --server, BUILDD_SERVER or \`buildd login\`.`,
      exitCodes.incompatible,
    );
  }

  private unreachable(error: unknown, timeoutMs: number): CliError {
    const err = error as Error & { cause?: { code?: string } };
    const code = err.cause?.code ?? (err as { code?: string }).code ?? '';
    const reason =
      err.name === 'TimeoutError'
        ? `it did not answer within ${Math.round(timeoutMs / 1000)} s`
        : (unreachableReasons[code] ?? (err.cause as Error | undefined)?.message ?? err.message);
    return new CliError(
      `Cannot reach the buildd server at ${this.server} (${reason}): is it running? Check --server, BUILDD_SERVER or \`buildd login\`.`,
      exitCodes.unreachable,
    );
  }
}

function parseErrorBody(text: string): ErrorBody | undefined {
  try {
    const json = JSON.parse(text) as Partial<ErrorBody>;
    return typeof json?.error?.message === 'string' ? (json as ErrorBody) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The dashboard's one door to the API: same-origin requests with the session cookie, the CSRF header on
 * writes, and errors turned into the API's own sentence.
 */

/** Mirrors `csrfHeader` / `csrfCookie` in @buildd/protocol (kept literal so zod stays out of the bundle). */
const csrfHeader = 'x-buildd-csrf';
const csrfCookie = 'buildd_csrf';

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
  /** The endpoint does not exist on this server (yet): the page says so instead of failing. */
  get missing(): boolean {
    return this.status === 404 && this.code === 'not_found' && this.message.startsWith('No route for');
  }
}

function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

let onUnauthenticated: () => void = () => {};
/** Called when a request answers 401: the session ended, so the app shows the login page. */
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

async function failureOf(res: Response): Promise<ApiFailure> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.message) {
      return new ApiFailure(res.status, body.error.code ?? 'error', body.error.message, body.error.details);
    }
  } catch {
    // Not the API's JSON error: say what came back.
  }
  return new ApiFailure(res.status, 'http', `The server answered ${res.status} ${res.statusText}.`.trim());
}

/** One API call; resolves to the parsed JSON (or text), rejects with an `ApiFailure`. */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers[csrfHeader] = readCookie(csrfCookie) ?? '';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiFailure(0, 'network', 'The buildd server cannot be reached; is it running?');
  }
  if (!res.ok) {
    const failure = await failureOf(res);
    if (res.status === 401 && path !== '/api/session') onUnauthenticated();
    throw failure;
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body: unknown = {}) => request<T>('POST', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  del: <T>(path: string) => request<T>('DELETE', path),
};

/** A query string from the values that are set. */
export function query(values: Record<string, string | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}

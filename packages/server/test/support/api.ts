/**
 * Apps served in-process (`createApp(deps)` without a socket), by the base URL that stands for them: a
 * client of such a URL calls `app.fetch` directly instead of going through HTTP.
 */
export const inProcessApps = new Map<string, (request: Request) => Response | Promise<Response>>();

type Late<T> = T | (() => T);
const now = <T>(value: Late<T>): T => (typeof value === 'function' ? (value as () => T)() : value);

/**
 * A tiny HTTP client for tests: real requests (or in-process ones, see `inProcessApps`), answers as
 * `{ status, body }`. The URL and key may be functions, read at each call.
 */
export function apiClient(baseUrl: Late<string>, key?: Late<string | undefined>) {
  const call = async <T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const base = now(baseUrl);
    const bearer = now(key);
    const app = inProcessApps.get(base);
    const send = app ? (url: string, init: RequestInit) => app(new Request(url, init)) : fetch;
    const res = await send(`${base}${path}`, {
      method,
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: tests that care look at the text.
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
  return {
    call,
    get: <T = any>(path: string) => call<T>('GET', path),
    post: <T = any>(path: string, body?: unknown) => call<T>('POST', path, body ?? {}),
    patch: <T = any>(path: string, body: unknown) => call<T>('PATCH', path, body),
    put: <T = any>(path: string, body: unknown) => call<T>('PUT', path, body),
    del: <T = any>(path: string) => call<T>('DELETE', path),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/** Creates an account through the API and returns its id, key and a client that uses that key. */
export async function makeAccount(admin: ApiClient, baseUrl: string, body: Record<string, unknown>) {
  const res = await admin.post('/api/accounts', {
    name: `acct-${Math.random().toString(36).slice(2, 8)}`,
    type: 'user',
    ...body,
  });
  if (res.status !== 201)
    throw new Error(`account creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    id: res.body.account.id as string,
    key: res.body.apiKey as string,
    api: apiClient(baseUrl, res.body.apiKey),
  };
}

/** Where and as whom the server calls the GitHub REST API (GitHub Enterprise or a local fake too). */
export interface GitHubSettings {
  /** API base URL without a trailing slash, e.g. https://api.github.com. */
  apiUrl: string;
  token: string;
}

/** A GitHub answer that was not a success; `transient` when trying again may help (5xx, 429, no answer). */
export class GitHubError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

export interface GitHubClient {
  /** `POST /repos/{repo}/dispatches`: starts the repository's workflows listening for `eventType`. */
  repositoryDispatch(repo: string, eventType: string, payload: Record<string, unknown>): Promise<void>;
}

/** The small part of the GitHub REST API the server uses, over fetch, with a timeout per call. */
export function createGitHubClient(settings: GitHubSettings, timeoutMs = 10_000): GitHubClient {
  const call = async (method: string, path: string, body: unknown): Promise<void> => {
    let res: Response;
    try {
      res = await fetch(`${settings.apiUrl}${path}`, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${settings.token}`,
          'content-type': 'application/json',
          'user-agent': 'buildd-server',
          'x-github-api-version': '2022-11-28',
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new GitHubError(`no answer from ${settings.apiUrl}: ${(err as Error).message}`, undefined, true);
    }
    if (res.ok) return;
    const text = (await res.text().catch(() => '')).slice(0, 300);
    throw new GitHubError(
      `GitHub answered ${res.status} to ${method} ${path}: ${text}`,
      res.status,
      res.status >= 500 || res.status === 429,
    );
  };
  return {
    repositoryDispatch: (repo, eventType, payload) =>
      call('POST', `/repos/${repo}/dispatches`, { event_type: eventType, client_payload: payload }),
  };
}

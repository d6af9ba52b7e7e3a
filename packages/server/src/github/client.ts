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

/** A pull request as the server needs it from GitHub's answer. */
export interface PullRequestRef {
  number: number;
  url: string;
}

export interface PullRequestText {
  title: string;
  body: string;
}

export interface GitHubClient {
  /** `POST /repos/{repo}/dispatches`: starts the repository's workflows listening for `eventType`. */
  repositoryDispatch(repo: string, eventType: string, payload: Record<string, unknown>): Promise<void>;
  /** `GET /repos/{repo}/pulls?head=owner:branch&state=open`: the open pull request of a branch, if any. */
  findOpenPullRequest(repo: string, head: string): Promise<PullRequestRef | undefined>;
  /** `POST /repos/{repo}/pulls`. */
  createPullRequest(
    repo: string,
    pr: PullRequestText & { head: string; base: string; draft: boolean },
  ): Promise<PullRequestRef>;
  /** `PATCH /repos/{repo}/pulls/{number}`: a new title and body. */
  updatePullRequest(repo: string, number: number, pr: PullRequestText): Promise<PullRequestRef>;
}

const refOf = (pr: unknown): PullRequestRef => {
  const { number, html_url } = (pr ?? {}) as { number?: unknown; html_url?: unknown };
  if (typeof number !== 'number' || typeof html_url !== 'string') {
    throw new GitHubError('GitHub answered a pull request without number or html_url', undefined, false);
  }
  return { number, url: html_url };
};

/**
 * The small part of the GitHub REST API the server uses, over fetch, with a timeout per call; `signal` ends
 * the calls early (the server is stopping).
 */
export function createGitHubClient(
  settings: GitHubSettings,
  timeoutMs = 10_000,
  signal?: AbortSignal,
): GitHubClient {
  // GitHub does not echo tokens, but a proxy or a fake might: no message leaves here carrying it.
  const scrub = (text: string) => text.split(settings.token).join('[token]');
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetch(`${settings.apiUrl}${path}`, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${settings.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          'user-agent': 'buildd-server',
          'x-github-api-version': '2022-11-28',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal
          ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
          : AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new GitHubError(
        scrub(`no answer from ${settings.apiUrl}: ${(err as Error).message}`),
        undefined,
        true,
      );
    }
    const text = await res.text().catch(() => '');
    if (res.ok) {
      try {
        return text ? JSON.parse(text) : undefined;
      } catch {
        throw new GitHubError(
          `GitHub answered ${method} ${path} with something that is not JSON`,
          res.status,
          true,
        );
      }
    }
    throw new GitHubError(
      scrub(`GitHub answered ${res.status} to ${method} ${path}: ${text.slice(0, 300)}`),
      res.status,
      res.status >= 500 || res.status === 429,
    );
  };
  return {
    repositoryDispatch: async (repo, eventType, payload) => {
      await call('POST', `/repos/${repo}/dispatches`, { event_type: eventType, client_payload: payload });
    },
    findOpenPullRequest: async (repo, head) => {
      const owner = repo.split('/')[0]!;
      const query = new URLSearchParams({ head: `${owner}:${head}`, state: 'open', per_page: '1' });
      const list = await call('GET', `/repos/${repo}/pulls?${query}`);
      return Array.isArray(list) && list.length > 0 ? refOf(list[0]) : undefined;
    },
    createPullRequest: async (repo, pr) => refOf(await call('POST', `/repos/${repo}/pulls`, pr)),
    updatePullRequest: async (repo, number, pr) =>
      refOf(await call('PATCH', `/repos/${repo}/pulls/${number}`, pr)),
  };
}

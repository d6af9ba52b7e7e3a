import type { SecretKeys } from '../secrets/secret-keys.ts';
import { createGitHubClient, type GitHubClient, GitHubError } from './client.ts';

/**
 * How the server reaches GitHub for a workspace: its API base URL (BUILDD_GITHUB_API_URL), the workspace's
 * own token (sealed in the database) or else the server-wide one (BUILDD_GITHUB_TOKEN).
 */
export class GitHubAccess {
  constructor(
    readonly apiUrl: string,
    private readonly serverToken: string | undefined,
    readonly keys: SecretKeys,
  ) {}

  /**
   * A client acting with the workspace's token, else the server's. Throws a GitHubError that is not
   * transient when there is no token to use, or the stored one cannot be decrypted with this server's keys.
   */
  clientFor(tokenSealed: string | null, signal?: AbortSignal): GitHubClient {
    let token = this.serverToken;
    if (tokenSealed !== null) {
      try {
        token = this.keys.open(tokenSealed);
      } catch (err) {
        throw new GitHubError(
          `The workspace's GitHub token cannot be used: ${(err as Error).message}.`,
          undefined,
          false,
        );
      }
    }
    if (!token) {
      throw new GitHubError(
        'The workspace names a GitHub repository but has no GitHub token (githubToken) and the server has no BUILDD_GITHUB_TOKEN.',
        undefined,
        false,
      );
    }
    return createGitHubClient({ apiUrl: this.apiUrl, token }, undefined, signal);
  }
}

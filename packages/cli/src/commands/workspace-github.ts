import type { Workspace } from '@buildd/protocol';
import type { Command } from 'commander';
import { action, type Ctx } from '../context.ts';
import { usageError } from '../exit-codes.ts';
import { readSecretFromStdin } from '../prompt.ts';

/** The variable `--token-env` reads (not BUILDD_GITHUB_TOKEN: that one is the server's own default token). */
export const tokenEnvVar = 'BUILDD_WORKSPACE_GITHUB_TOKEN';

interface GithubOptions {
  repo?: string;
  clearRepo?: boolean;
  tokenStdin?: boolean;
  tokenEnv?: boolean;
  clearToken?: boolean;
}

const ws = (id: string) => `/api/workspaces/${encodeURIComponent(id)}`;

/** "set" / "not set" for a workspace's token; undefined from a server that does not say. */
export function githubTokenText(w: Workspace): string | undefined {
  if (w.hasGithubToken === undefined) return undefined;
  return w.hasGithubToken ? 'set' : 'not set';
}

/** The body's `githubToken` from the flags: a string to set, null to remove, undefined to keep. */
async function tokenFrom(ctx: Ctx, opts: GithubOptions): Promise<string | null | undefined> {
  const ways = [opts.tokenStdin, opts.tokenEnv, opts.clearToken].filter(Boolean).length;
  if (ways > 1) throw usageError('Pass one of --token-stdin, --token-env and --clear-token.');
  if (opts.clearToken) return null;
  if (opts.tokenStdin) {
    const token = await readSecretFromStdin('GitHub token');
    if (!token) throw usageError('--token-stdin: stdin held no token.');
    return token;
  }
  if (opts.tokenEnv) {
    const token = ctx.env[tokenEnvVar]?.trim();
    if (!token) throw usageError(`--token-env: ${tokenEnvVar} is not set.`);
    return token;
  }
  return undefined;
}

/** `buildd workspace github`: a workspace's GitHub repository and token (the token is write-only). */
export function workspaceGithubCommand(workspace: Command): void {
  workspace
    .command('github')
    .description(
      "a workspace's GitHub repository and token for pull requests: show them, or change them (admin)",
    )
    .argument('<id|name>', 'workspace')
    .option('--repo <owner/name>', 'the GitHub repository the server opens pull requests on')
    .option('--clear-repo', 'remove the GitHub repository (no more pull requests)')
    .option('--token-stdin', 'read the GitHub token from stdin (a pipe, or typed without echo on a terminal)')
    .option('--token-env', `read the GitHub token from the ${tokenEnvVar} environment variable`)
    .option('--clear-token', "remove the workspace's GitHub token (the server's own, if any, applies)")
    .addHelpText(
      'after',
      `
The token is never a flag value (other users of the machine see arguments in \`ps\`):
give it on stdin or in ${tokenEnvVar}. The server stores it encrypted and
never shows it again; this command, \`workspace show\` and \`workspace list\` only
say whether one is set.

Examples:
  gh auth token | buildd workspace github my-repo --repo acme/widgets --token-stdin
  buildd workspace github my-repo --token-stdin < token.txt
  buildd workspace github my-repo --clear-token`,
    )
    .action(
      action(async (ctx, id: string, opts: GithubOptions) => {
        if (opts.repo !== undefined && opts.clearRepo)
          throw usageError('Pass --repo or --clear-repo, not both.');
        const githubToken = await tokenFrom(ctx, opts);
        const repo = opts.clearRepo ? null : opts.repo;
        // Checked against the protocol before anything reaches the server; the sentences never hold the token.
        const { UpdateWorkspaceBody } = await import('@buildd/protocol');
        const check = UpdateWorkspaceBody.safeParse({
          ...(repo ? { config: { githubRepo: repo } } : {}),
          ...(githubToken !== undefined ? { githubToken } : {}),
        });
        if (!check.success) {
          const issue = check.error.issues[0]!;
          throw usageError(`${issue.path.at(-1) === 'githubRepo' ? '--repo' : 'token'}: ${issue.message}.`);
        }

        const client = await ctx.client();
        let w = await client.get<Workspace>(ws(id));
        if (repo !== undefined || githubToken !== undefined) {
          // The API replaces `config` whole: keep the other settings, change only githubRepo.
          const { githubRepo: _old, ...rest } = w.config;
          const config = repo === undefined ? undefined : repo ? { ...rest, githubRepo: repo } : rest;
          w = await client.request<Workspace>('PATCH', ws(w.id), {
            body: {
              ...(config ? { config } : {}),
              ...(githubToken !== undefined ? { githubToken } : {}),
            },
          });
        }
        if (ctx.out.json) {
          ctx.out.printJson(w);
          return 0;
        }
        const repoText = w.config.githubRepo
          ? `GitHub repository ${w.config.githubRepo}`
          : 'no GitHub repository (no pull requests)';
        const token = githubTokenText(w);
        ctx.out.line(`${w.name}: ${repoText}${token ? `; GitHub token ${token}` : ''}.`);
        return 0;
      }),
    );
}

import type { AuthType } from '@buildd/protocol';

type Env = Record<string, string | undefined>;

/** The Claude credential the agent runs with. `sdkEnv` holds it; nothing else does. */
export interface ClaudeAuth {
  authType: AuthType;
  /** Name of the environment variable the credential came from. */
  source: 'CLAUDE_CODE_OAUTH_TOKEN' | 'ANTHROPIC_API_KEY';
  /** A few leading characters, safe to log; never the credential. */
  prefix: string;
  /** The whole credential, so loggers can redact it wherever it turns up. */
  secret: string;
  /** The environment of the Claude Code child process (the SDK's `env` replaces it entirely). */
  sdkEnv: Record<string, string>;
}

/** Thrown when no usable Claude credential is configured. */
export class ClaudeAuthError extends Error {
  override readonly name = 'ClaudeAuthError';
}

/**
 * Variables the Claude Code child may see besides the credential. An allowlist, not a copy of the
 * agent's environment: BUILDD_API_KEY and the unchosen Claude credential must never reach it.
 */
const passthrough = [
  'PATH',
  'HOME',
  'LANG',
  'LC_ALL',
  'USER',
  'TMPDIR',
  'ANTHROPIC_BASE_URL',
  'CLAUDE_CONFIG_DIR',
  'CLAUDE_CODE_TMPDIR',
  'CLAUDE_CODE_MAX_RETRIES',
  'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC',
  'IS_SANDBOX',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NO_PROXY',
  'GIT_AUTHOR_NAME',
  'GIT_AUTHOR_EMAIL',
  'GIT_COMMITTER_NAME',
  'GIT_COMMITTER_EMAIL',
] as const;

/** Leading characters of a credential that are safe to log: its type marker, not its entropy. */
export function credentialPrefix(value: string): string {
  const shown = Math.min(12, Math.floor(value.length / 4));
  return `${value.slice(0, shown)}…`;
}

/**
 * Detects the Claude credential as the spec says: CLAUDE_CODE_OAUTH_TOKEN → `oauth` (seat-based),
 * ANTHROPIC_API_KEY → `api` (pay-per-token). With both set, OAuth wins (no per-token cost) unless
 * `override` (`--auth` / BUILDD_CLAUDE_AUTH) says `api`. Only the chosen one goes into `sdkEnv`,
 * because Claude Code itself would prefer the API key when it sees both.
 */
export function detectClaudeAuth(env: Env, override?: AuthType): ClaudeAuth {
  const oauth = env.CLAUDE_CODE_OAUTH_TOKEN?.trim() || undefined;
  const apiKey = env.ANTHROPIC_API_KEY?.trim() || undefined;
  if (!oauth && !apiKey) {
    throw new ClaudeAuthError(
      'no Claude credential is set: export CLAUDE_CODE_OAUTH_TOKEN (seat-based, from `claude setup-token`) ' +
        'or ANTHROPIC_API_KEY (pay-per-token)',
    );
  }
  let authType: AuthType;
  if (override === 'oauth') {
    if (!oauth) throw new ClaudeAuthError('--auth oauth needs CLAUDE_CODE_OAUTH_TOKEN, which is not set');
    authType = 'oauth';
  } else if (override === 'api') {
    if (!apiKey) throw new ClaudeAuthError('--auth api needs ANTHROPIC_API_KEY, which is not set');
    authType = 'api';
  } else {
    authType = oauth ? 'oauth' : 'api';
  }
  const source = authType === 'oauth' ? 'CLAUDE_CODE_OAUTH_TOKEN' : 'ANTHROPIC_API_KEY';
  const secret = (authType === 'oauth' ? oauth : apiKey) as string;
  const sdkEnv: Record<string, string> = {};
  for (const name of passthrough) {
    const value = env[name];
    if (value !== undefined && value !== '') sdkEnv[name] = value;
  }
  sdkEnv[source] = secret;
  return { authType, source, prefix: credentialPrefix(secret), secret, sdkEnv };
}

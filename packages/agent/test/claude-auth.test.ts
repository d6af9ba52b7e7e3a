import { describe, expect, it } from 'vitest';
import { ClaudeAuthError, credentialPrefix, detectClaudeAuth } from '../src/config/claude-auth.ts';
import { createLogger } from '../src/log.ts';

const oauth = 'sk-ant-oat01-FAKE-oauth-token-0123456789abcdef';
const apiKey = 'sk-ant-api03-FAKE-api-key-0123456789abcdef';
const base = {
  PATH: '/usr/bin:/bin',
  HOME: '/tmp/home',
  LANG: 'C.UTF-8',
  BUILDD_API_KEY: 'buildd_user_secret_key_value',
  ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
  CLAUDE_CONFIG_DIR: '/tmp/home/.claude',
  CLAUDE_CODE_TMPDIR: '/tmp/cc',
  CLAUDE_CODE_MAX_RETRIES: '0',
  SOME_OTHER_SECRET: 'do-not-pass',
};

describe('detectClaudeAuth', () => {
  it('uses the OAuth token as seat-based auth', () => {
    const auth = detectClaudeAuth({ ...base, CLAUDE_CODE_OAUTH_TOKEN: oauth });
    expect(auth).toMatchObject({ authType: 'oauth', source: 'CLAUDE_CODE_OAUTH_TOKEN' });
    expect(auth.sdkEnv.CLAUDE_CODE_OAUTH_TOKEN).toBe(oauth);
  });

  it('uses the API key as pay-per-token auth', () => {
    const auth = detectClaudeAuth({ ...base, ANTHROPIC_API_KEY: apiKey });
    expect(auth).toMatchObject({ authType: 'api', source: 'ANTHROPIC_API_KEY' });
    expect(auth.sdkEnv.ANTHROPIC_API_KEY).toBe(apiKey);
  });

  it('prefers OAuth when both are set, and passes only the chosen credential', () => {
    const auth = detectClaudeAuth({ ...base, CLAUDE_CODE_OAUTH_TOKEN: oauth, ANTHROPIC_API_KEY: apiKey });
    expect(auth.authType).toBe('oauth');
    expect(auth.sdkEnv.CLAUDE_CODE_OAUTH_TOKEN).toBe(oauth);
    // Claude Code prefers an API key it can see, so it must not see one.
    expect(auth.sdkEnv).not.toHaveProperty('ANTHROPIC_API_KEY');
  });

  it('uses the API key when told to, even with an OAuth token set', () => {
    const auth = detectClaudeAuth(
      { ...base, CLAUDE_CODE_OAUTH_TOKEN: oauth, ANTHROPIC_API_KEY: apiKey },
      'api',
    );
    expect(auth.authType).toBe('api');
    expect(auth.sdkEnv.ANTHROPIC_API_KEY).toBe(apiKey);
    expect(auth.sdkEnv).not.toHaveProperty('CLAUDE_CODE_OAUTH_TOKEN');
  });

  it('refuses an override whose credential is missing', () => {
    expect(() => detectClaudeAuth({ ...base, ANTHROPIC_API_KEY: apiKey }, 'oauth')).toThrow(
      '--auth oauth needs CLAUDE_CODE_OAUTH_TOKEN, which is not set',
    );
    expect(() => detectClaudeAuth({ ...base, CLAUDE_CODE_OAUTH_TOKEN: oauth }, 'api')).toThrow(
      '--auth api needs ANTHROPIC_API_KEY, which is not set',
    );
  });

  it('names both ways when neither is set (also when set to blanks)', () => {
    for (const env of [base, { ...base, CLAUDE_CODE_OAUTH_TOKEN: ' ', ANTHROPIC_API_KEY: '' }]) {
      expect(() => detectClaudeAuth(env)).toThrow(ClaudeAuthError);
      expect(() => detectClaudeAuth(env)).toThrow(/CLAUDE_CODE_OAUTH_TOKEN.*ANTHROPIC_API_KEY/);
    }
  });

  it('builds the SDK child environment from an allowlist', () => {
    const auth = detectClaudeAuth({ ...base, CLAUDE_CODE_OAUTH_TOKEN: oauth });
    expect(auth.sdkEnv).toEqual({
      PATH: base.PATH,
      HOME: base.HOME,
      LANG: base.LANG,
      ANTHROPIC_BASE_URL: base.ANTHROPIC_BASE_URL,
      CLAUDE_CONFIG_DIR: base.CLAUDE_CONFIG_DIR,
      CLAUDE_CODE_TMPDIR: base.CLAUDE_CODE_TMPDIR,
      CLAUDE_CODE_MAX_RETRIES: '0',
      CLAUDE_CODE_OAUTH_TOKEN: oauth,
    });
  });

  it('exposes only a short prefix for logs', () => {
    const auth = detectClaudeAuth({ ...base, ANTHROPIC_API_KEY: apiKey });
    // At most 12 characters and at most a quarter of the value: its type marker, not its entropy.
    expect(auth.prefix).toBe('sk-ant-api…');
    expect(credentialPrefix(`${apiKey}${'x'.repeat(60)}`)).toBe('sk-ant-api03…');
    expect(apiKey.startsWith(auth.prefix.slice(0, -1))).toBe(true);
    expect(credentialPrefix('short-secret')).toBe('sho…');
  });
});

describe('createLogger', () => {
  it.each(['json', 'pretty'] as const)(
    'never writes a secret in %s lines, even inside an error message',
    (format) => {
      const lines: string[] = [];
      const log = createLogger({
        format,
        write: (l) => lines.push(l),
        secrets: [apiKey, 'buildd_user_secret_key_value'],
      });
      log('error', 'request failed', {
        error: new Error(`bad key ${apiKey}`),
        key: 'buildd_user_secret_key_value',
      });
      const text = lines.join('');
      expect(text).toContain('request failed');
      expect(text).toContain('[redacted]');
      expect(text).not.toContain(apiKey);
      expect(text).not.toContain('buildd_user_secret_key_value');
    },
  );

  it('writes the same fields as JSON lines and as pretty lines', () => {
    const json: string[] = [];
    const human: string[] = [];
    for (const [format, out] of [
      ['json', json],
      ['pretty', human],
    ] as const) {
      const log = createLogger({ format, write: (l) => out.push(l), base: { agent: 'agent-1' } });
      log('warn', 'claims paused by a limit', { limit: 'cost_limit', retryAfterSeconds: 30 });
      log('debug', 'not shown at info');
    }
    expect(json).toHaveLength(1);
    const line = JSON.parse(json[0] ?? '');
    expect(line).toMatchObject({
      level: 'warn',
      msg: 'claims paused by a limit',
      agent: 'agent-1',
      limit: 'cost_limit',
      retryAfterSeconds: 30,
    });
    expect(typeof line.time).toBe('string');
    const text = human.join('');
    expect(text).toMatch(/WARN.*claims paused by a limit/);
    for (const field of ['agent: "agent-1"', 'limit: "cost_limit"', 'retryAfterSeconds: 30'])
      expect(text).toContain(field);
    expect(text).not.toContain('not shown');
  });
});

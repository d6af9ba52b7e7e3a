import { createHash, randomFillSync } from 'node:crypto';
import type { AccountType } from '@buildd/protocol';

const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Random bytes taken from a pool refilled 4 KiB at a time: one call into the CSPRNG per id was a few percent
 * of the server's CPU on the claim path.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomByte(): number {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++] as number;
}

/** `n` random base62 characters (rejection sampling keeps them uniform). */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    const byte = randomByte();
    if (byte < 248) out += alphabet[byte % 62];
  }
  return out;
}

/** A new id: `ws-…` for workspaces (the spec's `--workspace=ws-123`), `<prefix>_…` otherwise. */
export function newId(prefix: 'acc' | 'key' | 'ws' | 'task' | 'wkr' | 'q' | 'msg'): string {
  return prefix === 'ws' ? `ws-${randomBase62(12).toLowerCase()}` : `${prefix}_${randomBase62(16)}`;
}

const keyKind: Record<AccountType, string> = { user: 'user', service: 'svc', action: 'action' };

/** A new API key in the spec's format: `buildd_user_…`, `buildd_svc_…`, `buildd_action_…` (≥ 32 bytes of entropy). */
export function newApiKey(type: AccountType): string {
  return `buildd_${keyKind[type]}_${randomBase62(43)}`;
}

export const apiKeyPattern = /^buildd_(user|svc|action)_[0-9A-Za-z_-]{32,128}$/;

/**
 * Why `key` cannot be an admin key given from outside (BUILDD_ADMIN_KEY), or undefined when it can: the
 * documented format with a body of at least 43 characters (32 random bytes in base62 or base64url) that
 * looks random. A random body of 43 characters has about 30 distinct characters and no long runs, so the
 * thresholds below refuse typed or patterned values without ever refusing a generated key in practice.
 */
export function adminKeyProblem(key: string): string | undefined {
  const body = key.match(/^buildd_(?:user|svc|action)_([0-9A-Za-z_-]+)$/)?.[1];
  const make =
    "make one with: node -e \"console.log('buildd_user_' + crypto.randomBytes(32).toString('base64url'))\"";
  if (body === undefined || body.length > 128) {
    return `BUILDD_ADMIN_KEY must look like buildd_user_<43 or more random characters of A-Z a-z 0-9 _ ->; ${make}.`;
  }
  if (body.length < 43) {
    return `BUILDD_ADMIN_KEY is too short: it needs at least 43 random characters after "buildd_user_" (32 random bytes), it has ${body.length}; ${make}.`;
  }
  const counts = new Map<string, number>();
  for (const c of body) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= n * Math.log2(n / body.length);
  let steps = 0;
  for (let i = 1; i < body.length; i++)
    if (Math.abs(body.charCodeAt(i) - body.charCodeAt(i - 1)) <= 1) steps++;
  if (counts.size < 16 || bits < 3.5 * body.length || steps > body.length / 4) {
    return `BUILDD_ADMIN_KEY does not look random (repeated or sequential characters), so it could be guessed; ${make}.`;
  }
  return undefined;
}

/** Keys are stored and compared only as this hash. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** What may be shown or logged of a key: its kind and a few characters. */
export function keyPrefix(key: string): string {
  const kind = key.match(/^buildd_(user|svc|action)_/)?.[0] ?? key.slice(0, 7);
  return `${kind}${key.slice(kind.length, kind.length + 4)}`;
}

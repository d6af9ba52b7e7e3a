import { createHash, randomBytes } from 'node:crypto';
import type { AccountType } from '@buildd/protocol';

const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `n` random base62 characters (rejection sampling keeps them uniform). */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const byte of randomBytes(n * 2)) {
      if (byte < 248 && out.length < n) out += alphabet[byte % 62];
    }
  }
  return out;
}

/** A new id: `ws-…` for workspaces (the spec's `--workspace=ws-123`), `<prefix>_…` otherwise. */
export function newId(prefix: 'acc' | 'key' | 'ws' | 'task' | 'wkr' | 'q'): string {
  return prefix === 'ws' ? `ws-${randomBase62(12).toLowerCase()}` : `${prefix}_${randomBase62(16)}`;
}

const keyKind: Record<AccountType, string> = { user: 'user', service: 'svc', action: 'action' };

/** A new API key in the spec's format: `buildd_user_…`, `buildd_svc_…`, `buildd_action_…` (≥ 32 bytes of entropy). */
export function newApiKey(type: AccountType): string {
  return `buildd_${keyKind[type]}_${randomBase62(43)}`;
}

export const apiKeyPattern = /^buildd_(user|svc|action)_[0-9A-Za-z_-]{32,128}$/;

/** Keys are stored and compared only as this hash. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** What may be shown or logged of a key: its kind and a few characters. */
export function keyPrefix(key: string): string {
  const kind = key.match(/^buildd_(user|svc|action)_/)?.[0] ?? key.slice(0, 7);
  return `${kind}${key.slice(kind.length, kind.length + 4)}`;
}

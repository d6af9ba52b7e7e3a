import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** A sealed value: `v1:<key id>:<iv>:<tag>:<ciphertext>`, the last three base64url. */
const format = /^v1:([0-9a-f]{8}):([\w-]+):([\w-]+):([\w-]*)$/;

/** A value sealed with a key this server does not have (the key was lost or not given after a rotation). */
export class UnknownSecretKeyError extends Error {
  constructor(readonly keyId: string) {
    super(
      `it was encrypted with server key ${keyId}, which this server does not have (BUILDD_SECRET_KEY, or ` +
        'BUILDD_SECRET_KEYS_OLD during a rotation); set it again',
    );
  }
}

/** The short public name of a key, stored with each value it seals so rotation knows which key to use. */
export const keyIdOf = (key: Buffer): string =>
  createHash('sha256').update('buildd-secret-key-id:').update(key).digest('hex').slice(0, 8);

/**
 * Seals and opens small secrets (workspaces' GitHub tokens) with AES-256-GCM under the server's key. The
 * first key seals; older keys (a rotation in progress) still open what they sealed.
 */
export class SecretKeys {
  private readonly keys: Map<string, Buffer>;
  readonly currentId: string;

  constructor(
    private readonly current: Buffer,
    older: Buffer[] = [],
  ) {
    if (current.length !== 32) throw new Error('a secret key is 32 bytes');
    this.currentId = keyIdOf(current);
    this.keys = new Map([...older, current].map((k) => [keyIdOf(k), k]));
  }

  /** A key that lives only as long as this process (servers built without one, e.g. in tests). */
  static ephemeral(): SecretKeys {
    return new SecretKeys(randomBytes(32));
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url'));
    return `v1:${this.currentId}:${parts.join(':')}`;
  }

  /** The plain value; throws UnknownSecretKeyError for a value of a key it lacks, Error if tampered with. */
  open(sealed: string): string {
    const m = format.exec(sealed);
    if (!m) throw new Error('it is not a sealed value buildd knows');
    const [, id, iv, tag, data] = m as unknown as [string, string, string, string, string];
    const key = this.keys.get(id);
    if (!key) throw new UnknownSecretKeyError(id);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  }

  /** Whether a sealed value was sealed with an older key (and should be sealed again with the current one). */
  isStale(sealed: string): boolean {
    return format.exec(sealed)?.[1] !== this.currentId;
  }
}

/**
 * A key as an operator writes it: 64 hex digits, or 32 bytes in base64/base64url (`openssl rand -base64 32`).
 * Answers undefined for anything else.
 */
export function parseSecretKey(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t.replace(/\+/g, '-').replace(/\//g, '_').replace(/=$/, ''), 'base64url');
    return b.length === 32 ? b : undefined;
  }
  return undefined;
}

/**
 * Secret values (the Claude credential, the buildd key, the operator's secret variables) replaced
 * before anything is spooled, sent or logged: a task's tools may print them, and events are shown to
 * everyone who can see the task.
 */

/** Replaces every known secret in a value (strings anywhere inside objects and arrays). */
export type Redact = <T>(value: T) => T;

/** What a redacted secret reads as. */
export const redactedMark = '[redacted]';

// Short values would redact ordinary words; real credentials are long.
const minSecretLength = 8;
// A cut made by truncation ("…abc… [123 more characters]") may end inside a secret: its head goes too.
const cutMark = '… [';
const minHeadLength = 6;

/** A redactor for `secrets` (empty and short values are ignored). */
export function createRedactor(secrets: readonly (string | undefined)[]): Redact {
  const known = [...new Set(secrets.filter((s): s is string => !!s && s.length >= minSecretLength))].sort(
    (a, b) => b.length - a.length,
  );
  const text = (value: string): string => {
    let out = value;
    for (const secret of known) if (out.includes(secret)) out = out.replaceAll(secret, redactedMark);
    if (!out.includes(cutMark)) return out;
    for (const secret of known) {
      for (let n = secret.length - 1; n >= minHeadLength; n--) {
        const head = `${secret.slice(0, n)}${cutMark}`;
        if (out.includes(head)) out = out.replaceAll(head, `${redactedMark}${cutMark}`);
      }
    }
    return out;
  };
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return text(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [text(k), walk(v)]));
    }
    return value;
  };
  return <T>(value: T) => (known.length === 0 ? value : (walk(value) as T));
}

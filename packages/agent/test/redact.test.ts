import { describe, expect, it } from 'vitest';
import { createRedactor } from '../src/redact.ts';
import { truncate } from '../src/run/types.ts';

const secret = 'sk-ant-oat01-FAKE-secret-token-0123456789';
const redact = createRedactor([secret, 'short', undefined]);

describe('createRedactor', () => {
  it('replaces secrets in strings anywhere inside objects and arrays, and leaves the rest alone', () => {
    expect(redact({ a: [`x ${secret} y`, 3, null], b: { c: secret }, [secret]: true, d: 'short' })).toEqual({
      a: ['x [redacted] y', 3, null],
      b: { c: '[redacted]' },
      '[redacted]': true,
      d: 'short',
    });
  });

  it('removes the head of a secret that truncation cut in half', () => {
    const cut = truncate(`${'x'.repeat(90)}${secret}`, 100);
    expect(cut).toContain(secret.slice(0, 10));
    const clean = redact(cut);
    expect(clean).not.toContain(secret.slice(0, 6));
    expect(clean).toMatch(/^x{90}\[redacted\]… \[\d+ more characters\]$/);
  });
});

import { InvalidArgumentError } from 'commander';

/** Parses a whole number flag value for commander. */
export function intArg(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('It must be a whole number.');
  return Number(value);
}

/** Parses a non-negative amount (dollars, seconds) for commander. */
export function amountArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError('It must be a number, 0 or more.');
  }
  return n;
}

/** Collects a repeatable flag (`-c node -c git`), also splitting commas (`-c node,git`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

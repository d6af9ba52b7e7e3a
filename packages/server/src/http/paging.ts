import { ApiError } from '../errors.ts';

/**
 * Builds `{ items, nextCursor }` from rows fetched with `LIMIT limit + 1`: the extra row only says that
 * another page exists.
 */
export function pageOf<R, T>(
  rows: R[],
  limit: number,
  map: (r: R) => T,
  cursorOf: (r: R) => string | number,
) {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return { items: kept.map(map), nextCursor: more && last !== undefined ? String(cursorOf(last)) : null };
}

/**
 * A numeric cursor (`?cursor=`, `?after=`, `Last-Event-ID`) as a number, or null when absent. Anything but a
 * whole number an id can reach is the client's error (400), never a query the database refuses.
 */
export function cursorNumber(raw: string | undefined, name: string): number | null {
  if (raw === undefined || raw === '') return null;
  if (!/^\d{1,16}$/.test(raw) || Number(raw) > Number.MAX_SAFE_INTEGER) {
    throw new ApiError(
      'validation_failed',
      `${name} must be a position this server gave out (a whole number up to ${Number.MAX_SAFE_INTEGER}), got "${raw.slice(0, 40)}".`,
      [{ path: name, message: 'not a position' }],
    );
  }
  return Number(raw);
}

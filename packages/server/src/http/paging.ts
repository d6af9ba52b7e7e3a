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

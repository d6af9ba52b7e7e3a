import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../src/db/types.ts';
import { changeHead, changesAfter, pruneChanges } from '../src/store/changes.ts';
import { freshDb, testEngines } from './support/engines.ts';

/** Change rows written `ageSeconds` ago, each in its own transaction, as the triggers write them. */
async function writeChanges(db: Db, ageSeconds: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await db.query(
      `INSERT INTO changes (kind, workspace_id, data, created_at)
       VALUES ('task', 'ws-x', jsonb_build_object('n', $2::int), now() - make_interval(secs => $1))`,
      [ageSeconds, i],
    );
  }
}

const ages = async (db: Db) =>
  (
    await db.query<{ age: number }>(
      'SELECT round(extract(epoch FROM now() - created_at))::int AS age FROM changes',
    )
  )
    .map((r) => r.age)
    .sort((a, b) => a - b);

for (const engine of await testEngines()) {
  describe(`change log retention on ${engine}`, () => {
    let db: (Db & { url: string }) | undefined;
    afterEach(async () => {
      await db?.close();
    });

    it('forgets rows older than the retention and keeps the rest, readable from where a client was', async () => {
      db = await freshDb(engine);
      await writeChanges(db, 7200, 5);
      await writeChanges(db, 10, 3);
      const before = await changesAfter(db, { tx: '0', id: '0' }, 100);
      expect(before.rows).toHaveLength(8);
      expect(await pruneChanges(db, 3600)).toBe(5);
      expect(await ages(db)).toEqual([10, 10, 10]);
      // A client that had read the second old row resumes at the oldest kept row: nothing young is lost.
      const resumed = await changesAfter(db, before.rows[1]!, 100);
      expect(resumed.rows.map((r) => r.data.n)).toEqual([0, 1, 2]);
      expect(await changeHead(db)).toEqual({ tx: before.rows[7]!.tx, id: before.rows[7]!.id });
    });

    it('empties a log with nothing young enough to keep, and leaves a young one alone', async () => {
      db = await freshDb(engine);
      await writeChanges(db, 7200, 4);
      expect(await pruneChanges(db, 3600)).toBe(4);
      expect(await ages(db)).toEqual([]);
      await writeChanges(db, 5, 2);
      expect(await pruneChanges(db, 3600)).toBe(0);
      expect(await ages(db)).toEqual([5, 5]);
    });
  });
}

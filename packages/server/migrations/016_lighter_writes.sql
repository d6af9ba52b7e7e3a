-- Lighter writes on the hot path (issue "Throughput"): every index a row carries is written again by each
-- update that cannot stay on its page (HOT), and a task lifecycle wrote 30 index entries.

-- Foreign keys whose check locked a row every lifecycle shares. A foreign-key check takes FOR KEY SHARE on
-- the referenced row; on an account's or a workspace's row, which every claim and completion of that
-- account or workspace references, that is a lock (and, with concurrent lockers, a new MultiXact) written to
-- one hot tuple per insert: three times per task lifecycle. Accounts and workspaces are never deleted
-- (keys are revoked, accounts and workspaces stay), and these rows are only written by the claim and the
-- worker PATCH with ids read from live rows in the same statement, so the checks guarded nothing.
-- The keys to tasks and workers stay: those rows are the writer's own.
ALTER TABLE workers DROP CONSTRAINT IF EXISTS workers_account_id_fkey;
ALTER TABLE workers DROP CONSTRAINT IF EXISTS workers_workspace_id_fkey;
ALTER TABLE usage_days DROP CONSTRAINT IF EXISTS usage_days_account_id_fkey;

-- The change log had three indexes (id, position, age) for three rows per lifecycle; readers only ever
-- walk positions, so the position is the key, and pruning by age walks it from the oldest row
-- (src/store/changes.ts), where the rows to delete are.
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
DROP INDEX changes_position;
DROP INDEX changes_created;
ALTER TABLE changes ADD PRIMARY KEY (tx, id);

-- A lease renewal (every progress PATCH, the agent's batch renewals) moved an indexed column, so each one
-- rewrote all five of the worker's index entries. The reaper finds expired leases among the live workers
-- through workers_live_account instead (live workers are few), and renewals stay on their page: room is
-- left on each page for that.
DROP INDEX workers_live_lease;
ALTER TABLE workers SET (fillfactor = 80);

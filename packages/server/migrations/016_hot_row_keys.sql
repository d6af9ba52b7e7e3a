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

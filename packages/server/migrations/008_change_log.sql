-- The change log behind GET /api/stream: one row per task creation or change of a task and per agent going
-- online or offline, written by triggers (src/queue/change-log.sql) in the transaction of the change itself,
-- so a feed that resumes from a row's position misses nothing, across restarts and replicas.
--
-- Positions are (tx, id): `tx` is the writing transaction's id. A reader only takes rows whose transaction
-- is older than every transaction still running (pg_snapshot_xmin), so a row that commits late can never
-- land behind a position a reader has already passed, which a bare bigserial would allow.
CREATE TABLE changes (
  id bigserial PRIMARY KEY,
  tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
  kind text NOT NULL CHECK (kind IN ('task', 'agent')),
  workspace_id text,
  account_id text,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changes_position ON changes (tx, id);
CREATE INDEX changes_created ON changes (created_at);

-- Whether the agent counts as online; the reaper round turns it off after a silence, recordAgent on again.
ALTER TABLE agents ADD COLUMN online boolean NOT NULL DEFAULT true;

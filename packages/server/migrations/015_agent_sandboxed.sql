-- Whether an agent runs tasks' tools in its sandbox, as its last claim said (null: it did not say, e.g. older
-- agents). Shown on the dashboard's agents page.
ALTER TABLE agents ADD COLUMN sandboxed boolean;

-- Which pending task some replica has just woken an agent for, and until when (events/hint-dispatch.ts):
-- another replica's agents are not woken for it meanwhile, so one new task wakes one agent, not one per
-- replica. Only a hint: claims never read it. UNLOGGED (no WAL): a crash loses at most a few seconds of
-- hints, which the agents' poll covers.
CREATE UNLOGGED TABLE task_hints (
  task_id text PRIMARY KEY,
  until timestamptz NOT NULL
);

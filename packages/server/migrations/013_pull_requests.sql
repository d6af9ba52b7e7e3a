-- Pull requests the server opens for completed tasks (src/github/pull-request-sender.ts).

-- A workspace's own GitHub token, encrypted with the server's key (src/secrets/); never returned by the API.
ALTER TABLE workspaces ADD COLUMN github_token_sealed text;

-- What the task shows of its pull request (the protocol's TaskPullRequest, kept in step with the row below):
-- on the task itself, so the change log's snapshot of the task carries it to feeds.
ALTER TABLE tasks ADD COLUMN pull_request jsonb;

-- One row per task whose branch wants a pull request, written in the transaction of the final PATCH, so a
-- server that dies before GitHub answered leaves it for the next sweep. `generation` grows with each
-- completion (a follow-up's new commits): a sync that finishes after a newer completion leaves the row
-- pending. `locked_until` is the lease of the replica syncing it, taken with FOR UPDATE SKIP LOCKED.
CREATE TABLE pull_requests (
  task_id text PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
  -- The branch that should be the head, and its commit.
  head text NOT NULL,
  commit_sha text,
  -- The pull request on GitHub, once known, and the head it was opened for.
  number integer,
  url text,
  pr_head text,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'open', 'failed')),
  error text,
  attempts integer NOT NULL DEFAULT 0,
  generation integer NOT NULL DEFAULT 1,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pull_requests_due ON pull_requests (next_attempt_at) WHERE state = 'pending';

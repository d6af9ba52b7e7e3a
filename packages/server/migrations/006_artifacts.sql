-- Artifacts: bytes stored once under their SHA-256 (artifact_blobs), attached to tasks by name
-- (task_artifacts). The same bytes uploaded again, for the same or another task, add no blob.
CREATE TABLE artifact_blobs (
  sha256 text PRIMARY KEY,
  size bigint NOT NULL,
  content bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE task_artifacts (
  id bigserial PRIMARY KEY,
  task_id text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  worker_id text NOT NULL REFERENCES workers(id) ON DELETE CASCADE,
  name text NOT NULL,
  sha256 text NOT NULL REFERENCES artifact_blobs(sha256),
  content_type text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, name, sha256)
);
CREATE INDEX task_artifacts_sha ON task_artifacts (sha256);

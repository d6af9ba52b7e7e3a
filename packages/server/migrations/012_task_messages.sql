-- Messages a person sends to a running task, for its live session. Kept until the holder's agent says it put
-- them into the session (`delivered_at`, `worker_id`), so a push lost on a dropped socket is polled later. A
-- message still undelivered when its run completes becomes the task's follow-up (see queue/finish-task.ts).
CREATE TABLE task_messages (
  id text PRIMARY KEY,
  task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  text text NOT NULL,
  sent_by text NOT NULL REFERENCES accounts (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  worker_id text REFERENCES workers (id) ON DELETE SET NULL
);
CREATE INDEX task_messages_pending ON task_messages (task_id, created_at) WHERE delivered_at IS NULL;

-- Questions: a run may ask a person and wait (worker and task `waiting_input`, still live: it keeps its lease
-- and its slot). A run that waits too long is parked: its worker ends, the task stays `waiting_input`, and
-- the answer makes it pending again with `resume_input`, which the next attempt gets with the conversation.
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN
  ('pending', 'assigned', 'running', 'waiting_input', 'completed', 'failed', 'cancelled'));
ALTER TABLE workers DROP CONSTRAINT workers_status_check;
ALTER TABLE workers ADD CONSTRAINT workers_status_check CHECK (status IN
  ('claimed', 'running', 'waiting_input', 'completed', 'failed', 'cancelled', 'lost'));

DROP INDEX workers_one_live_per_task;
CREATE UNIQUE INDEX workers_one_live_per_task ON workers (task_id)
  WHERE status IN ('claimed', 'running', 'waiting_input');
DROP INDEX workers_live_account;
CREATE INDEX workers_live_account ON workers (account_id) WHERE status IN ('claimed', 'running', 'waiting_input');
DROP INDEX workers_live_lease;
CREATE INDEX workers_live_lease ON workers (lease_expires_at) WHERE status IN ('claimed', 'running', 'waiting_input');

-- The open question as the task shows it: { id, text, options, askedAt }; NULL when none is open.
ALTER TABLE tasks ADD COLUMN question jsonb;
-- What the next attempt continues its conversation with: { kind: 'answer' | 'message', text }.
ALTER TABLE tasks ADD COLUMN resume_input jsonb;

CREATE TABLE questions (
  id text PRIMARY KEY,
  task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  worker_id text NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
  text text NOT NULL,
  options text[] NOT NULL DEFAULT '{}',
  asked_at timestamptz NOT NULL DEFAULT now(),
  answer text,
  answered_by text REFERENCES accounts (id),
  answered_at timestamptz
);
CREATE INDEX questions_task ON questions (task_id, asked_at);

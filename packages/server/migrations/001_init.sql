-- buildd schema, version 1. Forward-only: later changes go in 002_*.sql and up.

CREATE TABLE accounts (
  id text PRIMARY KEY,
  name text NOT NULL,
  type text NOT NULL CHECK (type IN ('user', 'service', 'action')),
  level text NOT NULL DEFAULT 'member' CHECK (level IN ('admin', 'member')),
  max_concurrent_workers integer NOT NULL DEFAULT 3,
  max_concurrent_sessions integer NOT NULL DEFAULT 2,
  max_cost_per_day_usd double precision,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name text,
  prefix text NOT NULL,
  key_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE workspaces (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE,
  repo_url text,
  default_branch text NOT NULL DEFAULT 'main',
  access text NOT NULL DEFAULT 'open' CHECK (access IN ('open', 'restricted')),
  max_running_tasks integer,
  config jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE account_workspaces (
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  can_claim boolean NOT NULL DEFAULT false,
  can_create boolean NOT NULL DEFAULT false,
  PRIMARY KEY (account_id, workspace_id)
);

CREATE TABLE tasks (
  id text PRIMARY KEY,
  -- Monotonic order of creation: ties in priority go to the oldest, and list cursors use it.
  seq bigserial NOT NULL UNIQUE,
  workspace_id text NOT NULL REFERENCES workspaces (id),
  title text NOT NULL,
  prompt text NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'assigned', 'running', 'completed', 'failed', 'cancelled')),
  runner_preference text NOT NULL DEFAULT 'any' CHECK (runner_preference IN ('any', 'user', 'service', 'action')),
  required_capabilities text[] NOT NULL DEFAULT '{}',
  depends_on text[] NOT NULL DEFAULT '{}',
  max_attempts integer NOT NULL DEFAULT 3,
  attempts integer NOT NULL DEFAULT 0,
  budget_usd double precision,
  max_turns integer,
  model text,
  result jsonb,
  error text,
  exit_cause text,
  created_by text NOT NULL REFERENCES accounts (id),
  -- Backoff after a failed attempt, and the agent that should not get the task straight back.
  not_before timestamptz,
  cooldown_agent_id text,
  cooldown_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX tasks_pending ON tasks (priority DESC, seq) WHERE status = 'pending';
CREATE INDEX tasks_workspace ON tasks (workspace_id, seq);

CREATE TABLE workers (
  id text PRIMARY KEY,
  task_id text NOT NULL REFERENCES tasks (id),
  account_id text NOT NULL REFERENCES accounts (id),
  agent_id text NOT NULL,
  status text NOT NULL DEFAULT 'claimed'
    CHECK (status IN ('claimed', 'running', 'completed', 'failed', 'cancelled', 'lost')),
  auth_type text NOT NULL CHECK (auth_type IN ('oauth', 'api')),
  branch text NOT NULL,
  workspace_id text NOT NULL REFERENCES workspaces (id),
  lease_expires_at timestamptz NOT NULL,
  current_action text,
  turns integer NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cache_read_tokens bigint NOT NULL DEFAULT 0,
  cost_usd double precision NOT NULL DEFAULT 0,
  summary text,
  error text,
  exit_cause text,
  commit_sha text,
  files_changed integer,
  lines_added integer,
  lines_removed integer,
  pr_url text,
  last_event_seq integer NOT NULL DEFAULT -1,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
-- The invariant of the whole queue: a task has at most one live worker.
CREATE UNIQUE INDEX workers_one_live_per_task ON workers (task_id) WHERE status IN ('claimed', 'running');
CREATE INDEX workers_live_account ON workers (account_id) WHERE status IN ('claimed', 'running');
CREATE INDEX workers_live_lease ON workers (lease_expires_at) WHERE status IN ('claimed', 'running');
CREATE INDEX workers_task ON workers (task_id);

CREATE TABLE worker_events (
  id bigserial PRIMARY KEY,
  task_id text NOT NULL REFERENCES tasks (id),
  worker_id text NOT NULL REFERENCES workers (id),
  seq integer NOT NULL,
  type text NOT NULL,
  at timestamptz NOT NULL,
  data jsonb NOT NULL DEFAULT '{}'::jsonb,
  UNIQUE (worker_id, seq)
);
CREATE INDEX worker_events_task ON worker_events (task_id, id);

CREATE TABLE agents (
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  id text NOT NULL,
  name text NOT NULL,
  host text,
  version text,
  capabilities text[] NOT NULL DEFAULT '{}',
  max_tasks integer NOT NULL DEFAULT 1,
  workspace_ids text[] NOT NULL DEFAULT '{}',
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, id)
);

CREATE TABLE usage_days (
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  day date NOT NULL,
  cost_usd double precision NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, day)
);

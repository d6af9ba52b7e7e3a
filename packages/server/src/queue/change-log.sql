-- The change log's writers (table: migrations/007_change_log.sql). Triggers, so that every writer of a task
-- (the claim, a PATCH, the reaper, cancel, retry, an edit) records its change in its own transaction without
-- knowing about feeds.
--
-- The hints: pg_notify inside a transaction is delivered at commit, and identical (channel, payload) pairs of
-- one transaction are folded into one. `buildd_changes` carries no payload, so a transaction sends it once
-- however many tasks it touched; `buildd_events` names the task, so a batch of progress rows sends one hint.
-- The hot paths (claim, worker PATCH, event append) leave their hints to the server, after commit: hints.sql.

CREATE OR REPLACE FUNCTION buildd_log_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  snapshot jsonb := to_jsonb(NEW) || jsonb_build_object('cost_usd',
    (SELECT COALESCE(sum(cost_usd), 0) FROM workers WHERE task_id = NEW.id));
BEGIN
  INSERT INTO changes (kind, workspace_id, data) VALUES ('task', NEW.workspace_id, snapshot);
  -- A state a webhook may be told about: one delivery row per subscribed webhook, in this transaction.
  IF TG_OP = 'UPDATE' AND OLD.status IS DISTINCT FROM NEW.status
     AND NEW.status IN ('completed', 'failed', 'cancelled', 'waiting_input') THEN
    INSERT INTO webhook_deliveries (id, webhook_id, type, task)
    SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), h.id, 'task.' || NEW.status, snapshot
      FROM webhooks h
     WHERE h.workspace_id = NEW.workspace_id AND h.deleted_at IS NULL AND ('task.' || NEW.status) = ANY (h.events);
  END IF;
  IF buildd_hints_from_triggers() THEN
    PERFORM pg_notify('buildd_changes', '');
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER tasks_log_insert AFTER INSERT ON tasks
  FOR EACH ROW EXECUTE FUNCTION buildd_log_task_change();

-- Every change of state and every edit (both move updated_at); progress PATCHes touch neither.
CREATE OR REPLACE TRIGGER tasks_log_update AFTER UPDATE ON tasks
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.updated_at IS DISTINCT FROM NEW.updated_at)
  EXECUTE FUNCTION buildd_log_task_change();

CREATE OR REPLACE FUNCTION buildd_log_agent_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO changes (kind, account_id, data) VALUES ('agent', NEW.account_id, to_jsonb(NEW));
  IF buildd_hints_from_triggers() THEN
    PERFORM pg_notify('buildd_changes', '');
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER agents_log_insert AFTER INSERT ON agents
  FOR EACH ROW EXECUTE FUNCTION buildd_log_agent_change();

CREATE OR REPLACE TRIGGER agents_log_online AFTER UPDATE ON agents
  FOR EACH ROW WHEN (OLD.online IS DISTINCT FROM NEW.online)
  EXECUTE FUNCTION buildd_log_agent_change();

CREATE OR REPLACE FUNCTION buildd_hint_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF buildd_hints_from_triggers() THEN
    PERFORM pg_notify('buildd_events', t.task_id) FROM (SELECT DISTINCT task_id FROM new_rows) t;
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER worker_events_hint AFTER INSERT ON worker_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION buildd_hint_events();

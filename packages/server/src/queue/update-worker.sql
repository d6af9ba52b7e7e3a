-- A worker's progress or completion PATCH: the current definition, re-applied with CREATE OR REPLACE at every
-- start inside the migration lock (src/db/migrate.ts). src/queue/update-worker.ts calls it; read it there for
-- what the caller guarantees. A function keeps its statement's plan, and every agent sends one of these
-- every second or so.
--
-- The whole PATCH is this one statement, its own transaction: the holder check, the update, the usage day,
-- and for a final report the task's move (buildd_finish_task). Before, a completion was five round trips
-- (holder check, BEGIN, update, task update, COMMIT), each paid while the worker row was locked.
--
--   p_agent   the agent the writer names (x-buildd-agent-id), or NULL; another agent's PATCH changes nothing
--             and answers the holder, so that the caller refuses it
--   p_status  NULL (progress only), 'running', or the final status ('completed' | 'failed' | 'cancelled')
--   p_report  the reported fields present in the PATCH, keyed by worker column (built from the protocol's
--             list of report fields, so a new field needs one line here and none in the caller)
--   p_finish  how a final report moves the task (from src/queue/finish-task.ts): the task's result fields
--             by worker column, the exit causes worth another attempt, the backoff cap and the cool-down
--
-- Totals only grow (a retried PATCH changes nothing); the other reported fields replace what was there when
-- given; current_action may be cleared with null. The lease is renewed by the worker's own lease length.
DROP FUNCTION IF EXISTS buildd_update_worker(text, text, text, integer, jsonb);

-- Moves the task after its worker reached a final state (completed, failed, cancelled, or parked).
CREATE OR REPLACE FUNCTION buildd_finish_task(w workers, p_finish jsonb)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_cause text := COALESCE(w.exit_cause, 'error');
  v_retry boolean := (p_finish -> 'retryableCauses') ? COALESCE(w.exit_cause, 'error');
  v_row jsonb := to_jsonb(w);
  v_result jsonb := (SELECT jsonb_object_agg(f.key, v_row -> f.value)
                       FROM jsonb_each_text(p_finish -> 'resultColumns') f);
  v_left text;
BEGIN
  IF w.exit_cause = 'parked' THEN
    -- A run that waited too long for an answer gave its slot back (its conversation is a `conversation`
    -- artifact). The attempt does not count against max_attempts. The task stays `waiting_input`, or, when
    -- the answer came in just before the parking report (the worker was running again), becomes pending
    -- with that answer to resume with. The task row is locked first: the answer and this report serialize.
    PERFORM 1 FROM tasks WHERE id = w.task_id FOR UPDATE;
    UPDATE tasks SET attempts = GREATEST(attempts - 1, 0), updated_at = now(), not_before = NULL,
           status = CASE WHEN status = 'waiting_input' THEN 'waiting_input' ELSE 'pending' END,
           resume_input = CASE WHEN status = 'waiting_input' THEN resume_input ELSE
             (SELECT jsonb_build_object('kind', 'answer', 'text', q.answer) FROM questions q
               WHERE q.task_id = w.task_id AND q.answer IS NOT NULL ORDER BY q.asked_at DESC LIMIT 1) END
     WHERE id = w.task_id AND status IN ('assigned', 'running', 'waiting_input');
  ELSIF w.status = 'completed' THEN
    -- A worker that pushed a branch with commits, in a workspace with `githubRepo` that pushes and wants pull
    -- requests, asks for its task's pull request to be opened or updated (src/github/pull-request-sender.ts
    -- syncs it). A row already there (an earlier attempt, a follow-up) is asked again, keeping the pull
    -- request it knows, so the same one is updated. Before the task's row moves, so the change it logs
    -- already shows the pull request as pending; the task shows it as the protocol's TaskPullRequest.
    IF w.commit_sha IS NOT NULL AND w.branch IS NOT NULL THEN
      WITH wanted AS (
        INSERT INTO pull_requests AS p (task_id, head, commit_sha)
        SELECT t.id, w.branch, w.commit_sha FROM tasks t JOIN workspaces ws ON ws.id = t.workspace_id
         WHERE t.id = w.task_id AND t.status IN ('assigned', 'running', 'waiting_input')
           AND ws.config ? 'githubRepo'
           AND COALESCE((ws.config ->> 'push')::boolean, true)
           AND COALESCE((ws.config ->> 'pullRequests')::boolean, true)
        ON CONFLICT (task_id) DO UPDATE SET head = EXCLUDED.head, commit_sha = EXCLUDED.commit_sha,
               state = 'pending', error = NULL, attempts = 0, generation = p.generation + 1,
               next_attempt_at = now(), updated_at = now()
        RETURNING p.*)
      UPDATE tasks t SET pull_request = jsonb_build_object('state', p.state, 'url', p.url, 'number', p.number,
               'error', p.error, 'attempts', p.attempts, 'updatedAt', p.updated_at)
        FROM wanted p WHERE t.id = p.task_id;
    END IF;
    -- The task's result is the worker's columns of the same names (the protocol's TaskResult); the pull
    -- request an earlier attempt opened stays linked until the server updates it.
    UPDATE tasks SET status = 'completed',
           result = v_result || jsonb_build_object('prUrl', COALESCE(v_result ->> 'prUrl', pull_request ->> 'url')),
           error = NULL, exit_cause = 'completed', question = NULL, resume_input = NULL,
           finished_at = now(), updated_at = now()
     WHERE id = w.task_id AND status IN ('assigned', 'running', 'waiting_input');
    -- A message that came too late for the session is not dropped: the task goes on with it, as a follow-up
    -- (src/queue/follow-up.ts: a fresh attempt, no cool-down, continuing the conversation on the same branch).
    -- Taken only when the task did complete here and no other run holds it, so no message is marked
    -- delivered without its follow-up.
    IF FOUND AND NOT EXISTS (SELECT 1 FROM workers WHERE task_id = w.task_id
                                AND status IN ('claimed', 'running', 'waiting_input')) THEN
      WITH taken AS (
        UPDATE task_messages SET delivered_at = now() WHERE task_id = w.task_id AND delivered_at IS NULL
        RETURNING text, created_at)
      SELECT string_agg(text, E'\n\n' ORDER BY created_at) INTO v_left FROM taken;
      IF v_left IS NOT NULL THEN
        UPDATE tasks SET status = 'pending', attempts = 0, error = NULL, exit_cause = NULL, not_before = NULL,
               cooldown_agent_id = NULL, cooldown_until = NULL, finished_at = NULL, updated_at = now(),
               question = NULL, resume_input = jsonb_build_object('kind', 'message', 'text', v_left)
         WHERE id = w.task_id;
      END IF;
    END IF;
  ELSIF w.status = 'cancelled' THEN
    UPDATE tasks SET status = 'cancelled', exit_cause = 'cancelled', error = w.error, finished_at = now(),
           updated_at = now()
     WHERE id = w.task_id AND status IN ('assigned', 'running', 'waiting_input');
  ELSE
    -- Failed: another attempt after a backoff (5 s, 10 s, 20 s … up to the cap) when the cause is worth one
    -- and attempts are left, with this agent cooling down on the task; failed for good otherwise.
    UPDATE tasks SET
           status = CASE WHEN v_retry AND attempts < max_attempts THEN 'pending' ELSE 'failed' END,
           error = w.error, exit_cause = v_cause, updated_at = now(),
           finished_at = CASE WHEN v_retry AND attempts < max_attempts THEN NULL ELSE now() END,
           not_before = CASE WHEN v_cause = 'shutdown' THEN NULL
                        ELSE now() + make_interval(secs => LEAST((p_finish ->> 'maxBackoffSeconds')::int,
                                                                 5 * power(2, GREATEST(attempts - 1, 0))::int)) END,
           cooldown_agent_id = w.agent_id,
           cooldown_until = now() + make_interval(secs => (p_finish ->> 'cooldownSeconds')::int)
     WHERE id = w.task_id AND status IN ('assigned', 'running', 'waiting_input');
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION buildd_update_worker(
  p_worker text,
  p_account text,
  p_agent text,
  p_status text,
  p_lease_seconds integer,
  p_report jsonb,
  p_finish jsonb
) RETURNS TABLE (worker jsonb, previous jsonb, task_status text, day_cost double precision, holder text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_final boolean := p_status IN ('completed', 'failed', 'cancelled');
  v_worker jsonb;
  v_previous jsonb;
  v_task_status text;
  v_day_cost double precision;
  v_holder text;
BEGIN
  PERFORM buildd_hint_after_commit();
  WITH cur AS (
      SELECT w.*, t.status AS task_status FROM workers w JOIN tasks t ON t.id = w.task_id
       WHERE w.id = p_worker AND w.account_id = p_account FOR UPDATE OF w),
    r AS (SELECT * FROM jsonb_populate_record(NULL::workers, p_report)),
    upd AS (
      UPDATE workers w SET
        status = CASE WHEN v_final THEN p_status
                      WHEN w.status = 'claimed' AND p_status = 'running' THEN 'running' ELSE w.status END,
        started_at = CASE WHEN w.started_at IS NULL AND p_status IS NOT NULL THEN now() ELSE w.started_at END,
        finished_at = CASE WHEN v_final THEN now() ELSE w.finished_at END,
        lease_expires_at = now() + make_interval(secs => COALESCE(w.lease_seconds, p_lease_seconds)),
        current_action = CASE WHEN p_report ? 'current_action' THEN r.current_action ELSE w.current_action END,
        -- totals
        turns = GREATEST(w.turns, COALESCE(r.turns, w.turns)),
        input_tokens = GREATEST(w.input_tokens, COALESCE(r.input_tokens, w.input_tokens)),
        output_tokens = GREATEST(w.output_tokens, COALESCE(r.output_tokens, w.output_tokens)),
        cache_read_tokens = GREATEST(w.cache_read_tokens, COALESCE(r.cache_read_tokens, w.cache_read_tokens)),
        cost_usd = GREATEST(w.cost_usd, COALESCE(r.cost_usd, w.cost_usd)),
        -- results
        summary = COALESCE(r.summary, w.summary),
        error = COALESCE(r.error, w.error),
        exit_cause = COALESCE(r.exit_cause, w.exit_cause),
        branch = COALESCE(r.branch, w.branch),
        commit_sha = COALESCE(r.commit_sha, w.commit_sha),
        files_changed = COALESCE(r.files_changed, w.files_changed),
        lines_added = COALESCE(r.lines_added, w.lines_added),
        lines_removed = COALESCE(r.lines_removed, w.lines_removed),
        pr_url = COALESCE(r.pr_url, w.pr_url),
        sandboxed = COALESCE(r.sandboxed, w.sandboxed)
        FROM cur, r WHERE w.id = cur.id AND cur.status IN ('claimed', 'running', 'waiting_input')
         AND (p_agent IS NULL OR cur.agent_id = p_agent)
      RETURNING w.*),
    usage AS (
      INSERT INTO usage_days (account_id, day, cost_usd, input_tokens, output_tokens)
      SELECT p_account, (now() AT TIME ZONE 'UTC')::date, upd.cost_usd - cur.cost_usd,
             upd.input_tokens - cur.input_tokens, upd.output_tokens - cur.output_tokens
        FROM upd JOIN cur ON cur.id = upd.id
       WHERE upd.cost_usd > cur.cost_usd OR upd.input_tokens > cur.input_tokens OR upd.output_tokens > cur.output_tokens
      ON CONFLICT (account_id, day) DO UPDATE SET cost_usd = usage_days.cost_usd + EXCLUDED.cost_usd,
        input_tokens = usage_days.input_tokens + EXCLUDED.input_tokens,
        output_tokens = usage_days.output_tokens + EXCLUDED.output_tokens
      RETURNING cost_usd),
    -- Executed for its effect (data-modifying WITH queries always run): an assigned task becomes running.
    started AS (
      UPDATE tasks t SET status = 'running', updated_at = now()
        FROM upd WHERE t.id = upd.task_id AND t.status = 'assigned' RETURNING t.id)
    -- The row before the PATCH only when the PATCH changed nothing (the caller answers with it then).
    SELECT to_jsonb(upd), CASE WHEN upd.id IS NULL THEN to_jsonb(cur) - 'task_status' END, cur.task_status,
           (SELECT cost_usd FROM usage),
           cur.agent_id
      INTO v_worker, v_previous, v_task_status, v_day_cost, v_holder
      FROM cur LEFT JOIN upd ON upd.id = cur.id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF v_final AND v_worker IS NOT NULL THEN
    PERFORM buildd_finish_task(jsonb_populate_record(NULL::workers, v_worker), p_finish);
  END IF;
  RETURN QUERY SELECT v_worker, v_previous, v_task_status, v_day_cost, v_holder;
END
$$;

-- Superseded: migration 004 drops what this file defined; the current definition lives in src/queue/.
-- A worker's progress or completion PATCH as one server-side function (see queue/update-worker.ts for what
-- it does). A function keeps its statement's plan: on the embedded engine, planning this statement cost
-- more than running it, and every agent sends one of these every second or so.

CREATE FUNCTION buildd_update_worker(
  p_worker text,
  p_final_status text,
  p_running boolean,
  p_final boolean,
  p_lease_seconds integer,
  p_set_action boolean,
  p_action text,
  p_turns integer,
  p_input bigint,
  p_output bigint,
  p_cache_read bigint,
  p_cost double precision,
  p_summary text,
  p_error text,
  p_exit_cause text,
  p_branch text,
  p_commit text,
  p_files integer,
  p_added integer,
  p_removed integer,
  p_pr text,
  p_account text
) RETURNS TABLE (worker jsonb, previous jsonb, task_status text, day_cost double precision)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH cur AS (
      SELECT w.*, t.status AS task_status FROM workers w JOIN tasks t ON t.id = w.task_id
       WHERE w.id = p_worker AND w.account_id = p_account FOR UPDATE OF w),
    upd AS (
      UPDATE workers w SET
        status = COALESCE(p_final_status, CASE WHEN w.status = 'claimed' AND p_running THEN 'running' ELSE w.status END),
        started_at = CASE WHEN w.started_at IS NULL AND (p_final_status IS NOT NULL OR p_running) THEN now() ELSE w.started_at END,
        finished_at = CASE WHEN p_final THEN now() ELSE w.finished_at END,
        lease_expires_at = now() + make_interval(secs => p_lease_seconds),
        current_action = CASE WHEN p_set_action THEN p_action ELSE w.current_action END,
        turns = GREATEST(w.turns, COALESCE(p_turns, w.turns)),
        input_tokens = GREATEST(w.input_tokens, COALESCE(p_input, w.input_tokens)),
        output_tokens = GREATEST(w.output_tokens, COALESCE(p_output, w.output_tokens)),
        cache_read_tokens = GREATEST(w.cache_read_tokens, COALESCE(p_cache_read, w.cache_read_tokens)),
        cost_usd = GREATEST(w.cost_usd, COALESCE(p_cost, w.cost_usd)),
        summary = COALESCE(p_summary, w.summary), error = COALESCE(p_error, w.error), exit_cause = COALESCE(p_exit_cause, w.exit_cause),
        branch = COALESCE(p_branch, w.branch), commit_sha = COALESCE(p_commit, w.commit_sha),
        files_changed = COALESCE(p_files, w.files_changed), lines_added = COALESCE(p_added, w.lines_added),
        lines_removed = COALESCE(p_removed, w.lines_removed), pr_url = COALESCE(p_pr, w.pr_url)
        FROM cur WHERE w.id = cur.id AND cur.status IN ('claimed', 'running')
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
    SELECT to_jsonb(upd) AS worker, to_jsonb(cur) - 'task_status' AS previous, cur.task_status,
           (SELECT cost_usd FROM usage) AS day_cost
      FROM cur LEFT JOIN upd ON upd.id = cur.id;
END
$$;

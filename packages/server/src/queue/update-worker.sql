-- A worker's progress or completion PATCH: the current definition, re-applied with CREATE OR REPLACE at every
-- start inside the migration lock (src/db/migrate.ts). src/queue/update-worker.ts calls it; read it there for
-- what the caller guarantees. A function keeps its statement's plan, and every agent sends one of these
-- every second or so.
--
--   p_status  NULL (progress only), 'running', or the final status ('completed' | 'failed' | 'cancelled')
--   p_report  the reported fields present in the PATCH, keyed by worker column (built from the protocol's
--             list of report fields, so a new field needs one line here and none in the caller)
--
-- Totals only grow (a retried PATCH changes nothing); the other reported fields replace what was there when
-- given; current_action may be cleared with null. The lease is renewed by the worker's own lease length.
CREATE OR REPLACE FUNCTION buildd_update_worker(
  p_worker text,
  p_account text,
  p_status text,
  p_lease_seconds integer,
  p_report jsonb
) RETURNS TABLE (worker jsonb, previous jsonb, task_status text, day_cost double precision)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_final boolean := p_status IN ('completed', 'failed', 'cancelled');
BEGIN
  RETURN QUERY
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
        FROM cur, r WHERE w.id = cur.id AND cur.status IN ('claimed', 'running')
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

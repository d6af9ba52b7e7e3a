-- Superseded: migration 004 drops what this file defined; the current definition lives in src/queue/.
-- The claim as one server-side function: one round trip per claim request.
--
-- Why a function: claims of one account are serialized on the account row, so every round trip made while
-- that lock is held is paid by every claimer queued behind it; and PL/pgSQL keeps the plans of its
-- statements, which matters on the embedded engine, where planning costs more than running.
-- In a VOLATILE function every statement takes a fresh snapshot (READ COMMITTED), so the live-row counts
-- taken after the account lock is granted see every claim committed before it: the limits stay exact.
--
-- Answers one row per claimed task (kind 'claimed'), or one row of kind 'limit' naming the limit that
-- leaves no slot, or no row when nothing is claimable (the caller then explains why).

-- Pending tasks an agent may take, best first, locked with FOR UPDATE SKIP LOCKED (never waits; concurrent
-- claimers never get the same task). Workspace access and the agent's filter are already resolved into
-- p_claimable, so the plan is a walk down the pending index whatever the table statistics say.
CREATE FUNCTION buildd_claim_candidates(
  p_claimable text[],
  p_type text,
  p_caps text[],
  p_agent text,
  p_exclude text[],
  p_limit integer
) RETURNS text[]
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_ids text[];
BEGIN
  SELECT array_agg(c.id ORDER BY c.priority DESC, c.seq) INTO v_ids FROM (
    SELECT t.id, t.priority, t.seq FROM tasks t
     WHERE t.status = 'pending'
       AND t.workspace_id = ANY(p_claimable)
       AND (t.runner_preference = 'any' OR t.runner_preference = p_type)
       AND t.required_capabilities <@ p_caps
       AND (t.not_before IS NULL OR t.not_before <= now())
       AND NOT COALESCE(t.cooldown_agent_id = p_agent AND t.cooldown_until > now(), false)
       AND NOT (t.id = ANY(p_exclude))
       AND (t.depends_on = '{}' OR NOT EXISTS (
             SELECT 1 FROM tasks dt WHERE dt.id = ANY(t.depends_on) AND dt.status <> 'completed'))
     ORDER BY t.priority DESC, t.seq
     LIMIT p_limit
     FOR UPDATE OF t SKIP LOCKED) c;
  RETURN v_ids;
END
$$;

CREATE FUNCTION buildd_claim(
  p_account text,
  p_agent text,
  p_auth text,
  p_max integer,
  p_caps text[],
  p_workspaces text[],
  p_exclude text[],
  p_lease_seconds integer,
  p_worker_ids text[]
) RETURNS TABLE (kind text, task jsonb, worker jsonb, workspace jsonb, code text, lim double precision, cur double precision)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  acct accounts%ROWTYPE;
  v_type text;
  v_admin boolean;
  v_limited boolean;
  v_fetch integer;
  v_candidates text[];
  v_claimable text[];
  v_chosen text[] := '{}';
  v_live integer;
  v_live_oauth integer;
  v_cost double precision;
  v_slots integer;
  v_room jsonb := '{}';
  v_task record;
  v_left integer;
BEGIN
  SELECT a.type, a.level = 'admin' INTO v_type, v_admin FROM accounts a WHERE a.id = p_account;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_limited := EXISTS (SELECT 1 FROM workspaces WHERE max_running_tasks IS NOT NULL);
  -- The workspaces this agent may take tasks from, resolved once, so that the candidate query below is a
  -- plain walk down the pending index whatever the table statistics say (a queue table's change fast).
  SELECT COALESCE(array_agg(w.id), '{}') INTO v_claimable
    FROM workspaces w
    LEFT JOIN account_workspaces aw ON aw.workspace_id = w.id AND aw.account_id = p_account
   WHERE (w.access = 'open' OR v_admin OR aw.can_claim)
     AND (p_workspaces IS NULL OR w.id = ANY(p_workspaces) OR w.name = ANY(p_workspaces));
  v_fetch := CASE WHEN v_limited THEN LEAST(p_max * 4, 400) ELSE p_max END;

  -- 1. Candidates first: SKIP LOCKED never waits, and concurrent claimers never get the same task.
  v_candidates := buildd_claim_candidates(v_claimable, v_type, p_caps, p_agent, p_exclude, v_fetch);

  -- 2. The account row: claims of one account queue here, and the counts below start after the lock.
  SELECT * INTO acct FROM accounts WHERE id = p_account FOR UPDATE;
  SELECT count(*) FILTER (WHERE true), count(*) FILTER (WHERE auth_type = 'oauth')
    INTO v_live, v_live_oauth
    FROM workers WHERE account_id = p_account AND status IN ('claimed', 'running');
  SELECT COALESCE((SELECT u.cost_usd FROM usage_days u
                    WHERE u.account_id = p_account AND u.day = (now() AT TIME ZONE 'UTC')::date), 0)
    INTO v_cost;

  IF v_live >= acct.max_concurrent_workers THEN
    RETURN QUERY SELECT 'limit', NULL::jsonb, NULL::jsonb, NULL::jsonb, 'concurrency_limit',
      acct.max_concurrent_workers::double precision, v_live::double precision;
    RETURN;
  END IF;
  v_slots := LEAST(p_max, acct.max_concurrent_workers - v_live);
  IF p_auth = 'oauth' THEN
    IF v_live_oauth >= acct.max_concurrent_sessions THEN
      RETURN QUERY SELECT 'limit', NULL::jsonb, NULL::jsonb, NULL::jsonb, 'session_limit',
        acct.max_concurrent_sessions::double precision, v_live_oauth::double precision;
      RETURN;
    END IF;
    v_slots := LEAST(v_slots, acct.max_concurrent_sessions - v_live_oauth);
  ELSIF acct.max_cost_per_day_usd IS NOT NULL AND v_cost >= acct.max_cost_per_day_usd THEN
    RETURN QUERY SELECT 'limit', NULL::jsonb, NULL::jsonb, NULL::jsonb, 'cost_limit',
      acct.max_cost_per_day_usd, v_cost;
    RETURN;
  END IF;
  IF v_candidates IS NULL THEN
    RETURN;
  END IF;

  -- 3. Choose within the workspaces' running limits. Their rows are locked after the account (in id
  --    order, so claims cannot deadlock): two accounts could otherwise both take the last place.
  IF NOT v_limited THEN
    v_chosen := v_candidates[1:v_slots];
  ELSE
    LOOP
      PERFORM 1 FROM workspaces w
        WHERE w.max_running_tasks IS NOT NULL
          AND w.id IN (SELECT t.workspace_id FROM tasks t WHERE t.id = ANY(v_candidates))
          AND NOT v_room ? w.id
        ORDER BY w.id FOR UPDATE;
      SELECT v_room || COALESCE(jsonb_object_agg(w.id, w.max_running_tasks - (
               SELECT count(*) FROM workers k WHERE k.workspace_id = w.id AND k.status IN ('claimed', 'running'))), '{}')
        INTO v_room
        FROM workspaces w
       WHERE w.max_running_tasks IS NOT NULL AND NOT v_room ? w.id
         AND w.id IN (SELECT t.workspace_id FROM tasks t WHERE t.id = ANY(v_candidates));
      FOR v_task IN
        SELECT t.id, t.workspace_id FROM unnest(v_candidates) WITH ORDINALITY AS c(id, ord)
          JOIN tasks t ON t.id = c.id ORDER BY c.ord
      LOOP
        EXIT WHEN cardinality(v_chosen) >= v_slots;
        IF v_room ? v_task.workspace_id THEN
          v_left := (v_room ->> v_task.workspace_id)::integer;
          CONTINUE WHEN v_left <= 0;
          v_room := jsonb_set(v_room, ARRAY[v_task.workspace_id], to_jsonb(v_left - 1));
        END IF;
        v_chosen := v_chosen || v_task.id;
      END LOOP;
      -- A workspace that filled up must not hide claimable tasks elsewhere: ask again without it (and
      -- without what is chosen). Each extra round fills at least one more workspace, so this ends.
      EXIT WHEN cardinality(v_chosen) >= v_slots OR cardinality(v_candidates) < v_fetch;
      v_claimable := ARRAY(SELECT unnest(v_claimable)
                           EXCEPT SELECT key FROM jsonb_each_text(v_room) WHERE value::integer <= 0);
      v_candidates := buildd_claim_candidates(v_claimable, v_type, p_caps, p_agent, p_exclude || v_chosen, v_fetch);
      EXIT WHEN v_candidates IS NULL;
    END LOOP;
  END IF;
  IF cardinality(v_chosen) = 0 THEN
    RETURN;
  END IF;

  -- 4. Assign: the tasks become assigned (one more attempt) and each gets one worker with a lease.
  RETURN QUERY
  WITH plan AS (
    SELECT c.id AS task_id, p_worker_ids[c.ord] AS worker_id, c.ord
      FROM unnest(v_chosen) WITH ORDINALITY AS c(id, ord)),
  taken AS (
    UPDATE tasks t SET status = 'assigned', attempts = t.attempts + 1, updated_at = now(),
           started_at = COALESCE(t.started_at, now())
      FROM plan WHERE t.id = plan.task_id
    RETURNING t.*, plan.worker_id, plan.ord),
  made AS (
    INSERT INTO workers (id, task_id, account_id, agent_id, auth_type, branch, workspace_id, lease_expires_at)
    SELECT taken.worker_id, taken.id, p_account, p_agent, p_auth,
           COALESCE(ws.config ->> 'branchPrefix', 'buildd/') || lower(taken.id) || '-' || taken.attempts,
           taken.workspace_id, now() + make_interval(secs => p_lease_seconds)
      FROM taken JOIN workspaces ws ON ws.id = taken.workspace_id
    RETURNING *)
  SELECT 'claimed', to_jsonb(taken) - 'worker_id' - 'ord', to_jsonb(made), to_jsonb(ws),
         NULL::text, NULL::double precision, NULL::double precision
    FROM taken JOIN made ON made.task_id = taken.id JOIN workspaces ws ON ws.id = taken.workspace_id
   ORDER BY taken.ord;
END
$$;

-- The claim: the current definition of every SQL function it uses. This file is re-applied with
-- CREATE OR REPLACE at every start, inside the migration lock (src/db/migrate.ts); src/queue/claim.ts calls
-- buildd_claim, src/queue/claim-diagnostics.ts calls the condition functions to say why a claim was empty.
--
-- Why server-side functions: claims of one account are serialized on the account row, so every round trip
-- made while that lock is held is paid by every claimer queued behind it; and PL/pgSQL keeps the plans of
-- its statements. In a VOLATILE function every statement takes a fresh snapshot (READ COMMITTED), so the
-- live-row counts taken after the account lock is granted see every claim committed before it: the limits
-- stay exact.

-- The candidate conditions, each written once. They are one-expression SQL functions, which the planner
-- inlines into the candidate query (a plain filter on the walk down the pending index); the diagnostics
-- call the same functions to tell which condition held a task back.

-- The workspaces an account may claim in: open ones, any for an admin, or those with a can_claim grant;
-- narrowed to the agent's filter (ids or names) when it gives one. PL/pgSQL, not SQL, so that its plan is
-- kept for the session: it runs once per claim.
CREATE OR REPLACE FUNCTION buildd_claimable_workspaces(p_account text, p_workspaces text[])
RETURNS text[] LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT COALESCE(array_agg(w.id), '{}')
            FROM workspaces w
            JOIN accounts a ON a.id = p_account
            LEFT JOIN account_workspaces aw ON aw.workspace_id = w.id AND aw.account_id = p_account
           WHERE (w.access = 'open' OR a.level = 'admin' OR aw.can_claim)
             AND (p_workspaces IS NULL OR w.id = ANY(p_workspaces) OR w.name = ANY(p_workspaces)));
END
$$;

-- The task wants any runner, or this account's type.
CREATE OR REPLACE FUNCTION buildd_task_fits_runner(t tasks, p_type text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT t.runner_preference = 'any' OR t.runner_preference = p_type
$$;

-- The agent offers every capability the task requires.
CREATE OR REPLACE FUNCTION buildd_task_has_capabilities(t tasks, p_caps text[])
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT t.required_capabilities <@ p_caps
$$;

-- Every one of these tasks has completed (a task that does not exist never completes).
CREATE OR REPLACE FUNCTION buildd_all_completed(p_ids text[])
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT NOT EXISTS (SELECT 1 FROM unnest(p_ids) AS d(id) LEFT JOIN tasks dt ON dt.id = d.id
                      WHERE dt.status IS DISTINCT FROM 'completed')
$$;

-- Every task it depends on has completed. The common case (no dependencies) stays inline in the candidate
-- query; only a task with dependencies pays for the lookup.
CREATE OR REPLACE FUNCTION buildd_task_dependencies_done(t tasks)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT t.depends_on = '{}' OR buildd_all_completed(t.depends_on)
$$;

-- The task is due for this agent: its backoff after a failed attempt is over, this agent is not cooling
-- down on it (the agent that just failed it), and the agent did not ask to skip it. An older agent names
-- no agent id (NULL), so no cool-down of another agent applies to it.
CREATE OR REPLACE FUNCTION buildd_task_due(t tasks, p_agent text, p_exclude text[])
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT (t.not_before IS NULL OR t.not_before <= now())
     AND NOT COALESCE(t.cooldown_agent_id = p_agent AND t.cooldown_until > now(), false)
     AND NOT (t.id = ANY(p_exclude))
$$;

-- Places left in a workspace under its own running limit; NULL when it has none.
CREATE OR REPLACE FUNCTION buildd_workspace_room(w workspaces)
RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT w.max_running_tasks - (SELECT count(*) FROM workers k
                                 WHERE k.workspace_id = w.id AND k.status IN ('claimed', 'running', 'waiting_input'))::integer
$$;

-- Pending tasks an agent may take, best first, locked with FOR UPDATE SKIP LOCKED (never waits; concurrent
-- claimers never get the same task). Workspace access and the agent's filter are already resolved into
-- p_claimable, so the plan can be a walk down the pending index that stops after p_limit rows. With sorts
-- allowed, the planner often preferred to read and sort every pending task on each claim (a queue's
-- statistics are always stale): under 32 claimers, that sort was the largest part of PostgreSQL's CPU per
-- claim. Sorts are off inside this function, so the index order is used whatever the statistics say.
-- Generic plans only: PostgreSQL plans a statement of a function afresh for each call while it estimates its
-- generic plan dearer than the custom ones, and for this query it always did, so every claim paid a planning
-- (about 0.2 ms of the backend's CPU, ten times the query's own run; `npm run bench -- pgwork`).
CREATE OR REPLACE FUNCTION buildd_claim_candidates(
  p_claimable text[],
  p_type text,
  p_caps text[],
  p_agent text,
  p_exclude text[],
  p_limit integer
) RETURNS text[]
LANGUAGE plpgsql VOLATILE SET enable_sort = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_ids text[];
BEGIN
  SELECT array_agg(c.id ORDER BY c.priority DESC, c.seq) INTO v_ids FROM (
    SELECT t.id, t.priority, t.seq FROM tasks t
     WHERE t.status = 'pending'
       AND t.workspace_id = ANY(p_claimable)
       AND buildd_task_fits_runner(t, p_type)
       AND buildd_task_has_capabilities(t, p_caps)
       AND buildd_task_due(t, p_agent, p_exclude)
       AND buildd_task_dependencies_done(t)
     ORDER BY t.priority DESC, t.seq
     LIMIT p_limit
     FOR UPDATE OF t SKIP LOCKED) c;
  RETURN v_ids;
END
$$;

-- Hands out up to p_max tasks to one agent. Answers one row per claimed task (kind 'claimed', with what a
-- resumed attempt starts from: the task's resume input and its latest conversation artifact, NULL when
-- neither), or one row of kind 'limit' naming the limit that leaves no slot, or no row when nothing is
-- claimable (the caller then asks the diagnostics why).
--   p_agent NULL: an older agent that names none; each of its workers gets an identity of its own
--                 ('legacy-' || worker id), so one such agent's cool-down never holds back another.
--   p_auth NULL:  an older agent that names no auth type: not an OAuth seat; the daily cost cap applies.
-- The answer gained its `resume` column: an older definition without it is replaced once.
-- Generic plans only, as buildd_claim_candidates says: the assignment was planned afresh on every claim too.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'buildd_claim' AND NOT ('resume' = ANY (proargnames))) THEN
    DROP FUNCTION buildd_claim(text, text, text, integer, text[], text[], text[], integer, text[]);
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION buildd_claim(
  p_account text,
  p_agent text,
  p_auth text,
  p_max integer,
  p_caps text[],
  p_workspaces text[],
  p_exclude text[],
  p_lease_seconds integer,
  p_worker_ids text[]
) RETURNS TABLE (kind text, task jsonb, worker jsonb, workspace jsonb, resume jsonb, code text, lim double precision,
                cur double precision)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  acct accounts%ROWTYPE;
  v_type text;
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
  -- The claimed tasks' change-log hint is sent by the server after commit (hints.sql says why).
  PERFORM buildd_hint_after_commit();
  SELECT a.type INTO v_type FROM accounts a WHERE a.id = p_account;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_limited := EXISTS (SELECT 1 FROM workspaces WHERE max_running_tasks IS NOT NULL);
  -- Resolved once, so that the candidate query is a plain walk down the pending index whatever the table
  -- statistics say (a queue's tables change fast).
  v_claimable := buildd_claimable_workspaces(p_account, p_workspaces);
  v_fetch := CASE WHEN v_limited THEN LEAST(p_max * 4, 400) ELSE p_max END;

  -- 1. Candidates first: SKIP LOCKED never waits, and concurrent claimers never get the same task.
  v_candidates := buildd_claim_candidates(v_claimable, v_type, p_caps, p_agent, p_exclude, v_fetch);

  -- 2. The account row: claims of one account queue here, and the counts below start after the lock. NO KEY
  --    UPDATE, not UPDATE: it serializes claims just the same, but does not block the foreign-key checks
  --    (FOR KEY SHARE) of other transactions that insert rows naming this account.
  SELECT * INTO acct FROM accounts WHERE id = p_account FOR NO KEY UPDATE;
  SELECT count(*) FILTER (WHERE true), count(*) FILTER (WHERE auth_type = 'oauth')
    INTO v_live, v_live_oauth
    FROM workers WHERE account_id = p_account AND status IN ('claimed', 'running', 'waiting_input');
  SELECT COALESCE((SELECT u.cost_usd FROM usage_days u
                    WHERE u.account_id = p_account AND u.day = (now() AT TIME ZONE 'UTC')::date), 0)
    INTO v_cost;

  IF v_live >= acct.max_concurrent_workers THEN
    RETURN QUERY SELECT 'limit', NULL::jsonb, NULL::jsonb, NULL::jsonb, NULL::jsonb, 'concurrency_limit',
      acct.max_concurrent_workers::double precision, v_live::double precision;
    RETURN;
  END IF;
  v_slots := LEAST(p_max, acct.max_concurrent_workers - v_live);
  IF p_auth = 'oauth' THEN
    IF v_live_oauth >= acct.max_concurrent_sessions THEN
      RETURN QUERY SELECT 'limit', NULL::jsonb, NULL::jsonb, NULL::jsonb, NULL::jsonb, 'session_limit',
        acct.max_concurrent_sessions::double precision, v_live_oauth::double precision;
      RETURN;
    END IF;
    v_slots := LEAST(v_slots, acct.max_concurrent_sessions - v_live_oauth);
  ELSIF acct.max_cost_per_day_usd IS NOT NULL AND v_cost >= acct.max_cost_per_day_usd THEN
    RETURN QUERY SELECT 'limit', NULL::jsonb, NULL::jsonb, NULL::jsonb, NULL::jsonb, 'cost_limit',
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
      SELECT v_room || COALESCE(jsonb_object_agg(w.id, buildd_workspace_room(w)), '{}')
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
    INSERT INTO workers (id, task_id, account_id, agent_id, auth_type, branch, workspace_id, lease_seconds,
                         lease_expires_at)
    SELECT taken.worker_id, taken.id, p_account, COALESCE(p_agent, 'legacy-' || taken.worker_id), p_auth,
           COALESCE(ws.config ->> 'branchPrefix', 'buildd/') || lower(taken.id) || '-' || taken.attempts,
           taken.workspace_id, p_lease_seconds, now() + make_interval(secs => p_lease_seconds)
      FROM taken JOIN workspaces ws ON ws.id = taken.workspace_id
    RETURNING *)
  SELECT 'claimed', to_jsonb(taken) - 'worker_id' - 'ord', to_jsonb(made), to_jsonb(ws),
         CASE WHEN taken.resume_input IS NOT NULL OR conv.sha256 IS NOT NULL THEN
           jsonb_build_object('input', taken.resume_input, 'conversationSha256', conv.sha256) END,
         NULL::text, NULL::double precision, NULL::double precision
    FROM taken JOIN made ON made.task_id = taken.id JOIN workspaces ws ON ws.id = taken.workspace_id
    LEFT JOIN LATERAL (SELECT a.sha256 FROM task_artifacts a WHERE a.task_id = taken.id AND a.name = 'conversation'
                        ORDER BY a.id DESC LIMIT 1) conv ON true
   ORDER BY taken.ord;
END
$$;

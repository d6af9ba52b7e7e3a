-- A batch of progress events: the current definition, re-applied with CREATE OR REPLACE at every start inside
-- the migration lock (src/db/migrate.ts). src/queue/append-events.ts calls it; read it there for the rules.
--
-- One statement, its own transaction: the worker row is locked (batches of one worker serialize, so its
-- counts stay exact), the writer is checked against the holder, the events are inserted (a replayed seq
-- inserts nothing), and the worker's counts move. A batch that takes the worker past a cap raises BD413,
-- which rolls the whole statement back: nothing of a refused batch is stored. Before, this was six round
-- trips (holder check, BEGIN, lock, insert, counts, COMMIT), and the insert's NOTIFY made every append's
-- commit wait in one line (hints.sql).
--
-- Answers no row for a worker the account does not hold, or one row whose outcome is 'stored',
-- 'not_holder' (another agent of the account wrote) or 'ended' (the worker ended too long ago).
CREATE OR REPLACE FUNCTION buildd_append_events(
  p_worker text,
  p_account text,
  p_agent text,
  p_events jsonb,
  p_late_seconds integer,
  p_max_events integer,
  p_max_bytes bigint
) RETURNS TABLE (outcome text, task_id text, stored integer, last_seq integer)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  w record;
  v_stored integer;
  v_bytes bigint;
  v_last integer;
BEGIN
  PERFORM buildd_hint_after_commit();
  SELECT k.task_id, k.agent_id, k.event_count, k.event_bytes,
         k.finished_at IS NOT NULL AND k.finished_at < now() - make_interval(secs => p_late_seconds) AS ended_long_ago
    INTO w FROM workers k WHERE k.id = p_worker AND k.account_id = p_account FOR UPDATE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF p_agent IS NOT NULL AND w.agent_id <> p_agent THEN
    RETURN QUERY SELECT 'not_holder', w.task_id, 0, 0;
    RETURN;
  END IF;
  IF w.ended_long_ago THEN
    RETURN QUERY SELECT 'ended', w.task_id, 0, 0;
    RETURN;
  END IF;
  WITH ins AS (
    INSERT INTO worker_events (task_id, worker_id, seq, type, at, data)
    SELECT w.task_id, p_worker, e.seq, e.type, e.at, COALESCE(e.data, '{}'::jsonb)
      FROM jsonb_to_recordset(p_events) AS e(seq integer, type text, at timestamptz, data jsonb)
     ORDER BY e.seq
    ON CONFLICT (worker_id, seq) DO NOTHING RETURNING octet_length(data::text) AS bytes)
  SELECT count(*)::integer, COALESCE(sum(ins.bytes), 0) INTO v_stored, v_bytes FROM ins;
  IF w.event_count + v_stored > p_max_events OR w.event_bytes + v_bytes > p_max_bytes THEN
    RAISE EXCEPTION 'event cap' USING ERRCODE = 'BD413', DETAIL = json_build_object(
      'byCount', w.event_count + v_stored > p_max_events, 'count', w.event_count, 'bytes', w.event_bytes,
      'newBytes', w.event_bytes + v_bytes)::text;
  END IF;
  UPDATE workers k SET last_event_seq = GREATEST(k.last_event_seq,
           (SELECT max((e ->> 'seq')::integer) FROM jsonb_array_elements(p_events) e)),
         event_count = k.event_count + v_stored, event_bytes = k.event_bytes + v_bytes
   WHERE k.id = p_worker RETURNING k.last_event_seq INTO v_last;
  RETURN QUERY SELECT 'stored', w.task_id, v_stored, v_last;
END
$$;

-- Hint leases: which replica wakes an agent for which pending task (src/queue/hint-leases.ts calls it,
-- events/hint-dispatch.ts decides who is woken; docs/live.md). Re-applied at every start, like claim.sql,
-- whose condition functions it uses so that a hint follows the claim's own rules.
--
-- One call per round of a replica, for all its groups of idle agents: p_groups is a JSON array of
-- {account, capabilities, workspaces, limit}. For each group in turn it takes leases on up to `limit` tasks
-- that agents of the group could claim now, best first, skipping tasks with a live lease (also those an
-- earlier group of this call just took: each statement sees the ones before it). Of two replicas racing for
-- one task, exactly one gets it back: the insert waits for the other's row, then finds its lease live.
CREATE OR REPLACE FUNCTION buildd_take_hint_leases(p_groups jsonb, p_lease_seconds double precision)
RETURNS TABLE (o_group integer, o_task text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  g record;
  v_workspaces text[];
  v_type text;
BEGIN
  FOR g IN SELECT (e.ord - 1)::integer AS i, e.value AS v
             FROM jsonb_array_elements(p_groups) WITH ORDINALITY AS e(value, ord) LOOP
    v_workspaces := ARRAY(SELECT jsonb_array_elements_text(g.v -> 'workspaces'));
    SELECT a.type INTO v_type FROM accounts a WHERE a.id = g.v ->> 'account';
    CONTINUE WHEN v_type IS NULL;
    RETURN QUERY
    WITH c AS (
      SELECT t.id FROM tasks t JOIN workspaces w ON w.id = t.workspace_id
       WHERE t.status = 'pending'
         AND t.workspace_id = ANY(buildd_claimable_workspaces(g.v ->> 'account',
                                    CASE WHEN cardinality(v_workspaces) > 0 THEN v_workspaces END))
         AND buildd_task_fits_runner(t, v_type)
         AND buildd_task_has_capabilities(t, ARRAY(SELECT jsonb_array_elements_text(g.v -> 'capabilities')))
         AND buildd_task_due(t, NULL, '{}')
         AND buildd_task_dependencies_done(t)
         AND (w.max_running_tasks IS NULL OR buildd_workspace_room(w) > 0)
         AND NOT EXISTS (SELECT 1 FROM task_hints h WHERE h.task_id = t.id AND h.until > now())
       ORDER BY t.priority DESC, t.seq
       LIMIT (g.v ->> 'limit')::integer),
    taken AS (
      INSERT INTO task_hints AS h (task_id, until)
      SELECT c.id, now() + make_interval(secs => p_lease_seconds) FROM c
      ON CONFLICT (task_id) DO UPDATE SET until = EXCLUDED.until WHERE h.until <= now()
      RETURNING h.task_id)
    SELECT g.i, taken.task_id FROM taken;
  END LOOP;
END
$$;

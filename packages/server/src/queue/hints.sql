-- Hints sent by the server after its hot paths commit (src/events/bus.ts, through src/queue/send-hints.ts).
--
-- Why not from the triggers: PostgreSQL serializes the commits of every transaction that sent a NOTIFY (it
-- holds a global lock from the notify queue until its commit record is flushed), so a NOTIFY inside each
-- claim and PATCH made those commits wait in one line, the account row lock held all the while. The claim,
-- the worker PATCH and the event append mark their transaction with `buildd.hint_after_commit` (the
-- change-log triggers then stay quiet), and the server sends the hints afterwards, several at once, in a
-- transaction of their own that does not wait for its commit to reach the disk: a hint lost in a crash
-- costs a poll, never a change (the change log and the queue rows are the truth).
CREATE OR REPLACE FUNCTION buildd_send_hints(p_channels text[], p_payloads text[])
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM pg_notify(h.channel, h.payload) FROM unnest(p_channels, p_payloads) AS h(channel, payload);
END
$$;

-- Marks the current transaction: its task, agent and event changes are hinted by the server after commit.
-- PL/pgSQL, not SQL: a SQL function that returns void is never inlined, and PostgreSQL parsed and planned its
-- body again on every call (three times per task lifecycle).
CREATE OR REPLACE FUNCTION buildd_hint_after_commit()
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM set_config('buildd.hint_after_commit', 'on', true);
END
$$;

-- Whether the change-log triggers should send their hints themselves (every writer but the marked ones).
CREATE OR REPLACE FUNCTION buildd_hints_from_triggers()
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT current_setting('buildd.hint_after_commit', true) IS DISTINCT FROM 'on'
$$;

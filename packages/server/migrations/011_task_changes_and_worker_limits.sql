-- Who cancelled or retried a task (the creator or an admin; see http/routes/tasks.ts).
ALTER TABLE tasks
  ADD COLUMN cancelled_by text REFERENCES accounts (id),
  ADD COLUMN cancelled_at timestamptz,
  ADD COLUMN retried_by text REFERENCES accounts (id),
  ADD COLUMN retried_at timestamptz;

-- What a worker has stored in events, for the per-worker caps (queue/append-events.ts).
ALTER TABLE workers
  ADD COLUMN event_count integer NOT NULL DEFAULT 0,
  ADD COLUMN event_bytes bigint NOT NULL DEFAULT 0;

UPDATE workers w SET event_count = e.n, event_bytes = e.bytes
  FROM (SELECT worker_id, count(*) AS n, sum(octet_length(data::text)) AS bytes
          FROM worker_events GROUP BY worker_id) e
 WHERE e.worker_id = w.id;

-- Pruning stale agents per account reads them by last contact.
CREATE INDEX agents_account_seen ON agents (account_id, last_seen_at);

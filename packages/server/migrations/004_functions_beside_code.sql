-- From here on the server's SQL functions are defined in one current file each beside the TypeScript that
-- calls them (src/queue/claim.sql, src/queue/update-worker.sql), re-applied with CREATE OR REPLACE at every
-- start inside the migration lock. Drop the versions migrations 002 and 003 created, whose signatures change.
DROP FUNCTION IF EXISTS buildd_claim(text, text, text, integer, text[], text[], text[], integer, text[]);
DROP FUNCTION IF EXISTS buildd_claim_candidates(text[], text, text[], text, text[], integer);
DROP FUNCTION IF EXISTS buildd_update_worker(
  text, text, boolean, boolean, integer, boolean, text, integer, bigint, bigint, bigint, double precision,
  text, text, text, text, text, integer, integer, integer, text, text);

-- Older agents name no authType: their workers are neither OAuth seats nor known API billing (NULL).
ALTER TABLE workers ALTER COLUMN auth_type DROP NOT NULL;

-- Each worker keeps the lease length it was claimed with, so that a PATCH renews it by that much: older
-- agents, which renew only with their progress PATCHes, get a longer one (see src/queue/claim.ts).
-- NULL (workers claimed before this migration) means the server's configured lease.
ALTER TABLE workers ADD COLUMN lease_seconds integer;

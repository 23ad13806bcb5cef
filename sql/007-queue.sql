-- imagegen schema, version 7: jobs queued for a worker.
--
-- generate starts no worker while max_inflight of them run: more would
-- only wait for a place to call the image API, each a process. Such a
-- job stays pending with queued_at set; the first worker to end, or the
-- reaper, starts it (oldest first). A worker that claims the job clears it.
--   SELECT case_id, datetime(queued_at/1000,'unixepoch') FROM jobs
--    WHERE queued_at IS NOT NULL ORDER BY queued_at;

ALTER TABLE jobs ADD COLUMN queued_at INTEGER;

-- imagegen schema, version 17: scaling out, the state host's counts of
-- updates by worker host.
--
-- One row per worker host that has reported: the updates applied, and those
-- refused because their dispatch was no longer the job's (fenced, 409).
-- The metrics route reads it:
--   SELECT worker_host, applied, fenced FROM dispatch_updates;
CREATE TABLE dispatch_updates (
  worker_host TEXT    PRIMARY KEY,
  applied     INTEGER NOT NULL DEFAULT 0,
  fenced      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

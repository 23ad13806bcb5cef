-- imagegen schema, version 21: leases and fencing numbers, deliveries
-- leased, and pictures kept in the database (sql/pg/021-leases.sql is
-- its PostgreSQL twin).
--
-- Every host runs the same imagegen against one database (imagegen(8),
-- SCALING OUT). A worker's claim names its host and process, and grows
-- the job's epoch by one; its heartbeat renews lease_until. Every write a
-- worker makes names its epoch: one that touches no row means another
-- took the job, and the worker stops. A job whose lease has run out is
-- any host's to resume. The worker's process id means something on its
-- own host only:
--   SELECT case_id, host_id, worker_pid, epoch,
--          (lease_until - CAST(strftime('%s') AS INTEGER) * 1000) / 1000 AS lease_left_s
--     FROM jobs WHERE status = 'generating';

ALTER TABLE jobs ADD COLUMN host_id TEXT;                    -- the host whose worker holds it
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;             -- epoch ms: past it, any host may resume it
ALTER TABLE jobs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0; -- one more at each claim

-- A delivery a host is sending: others leave it until the lease runs
-- out, then any host sends it, under the same webhook-id.
ALTER TABLE webhook_deliveries ADD COLUMN leased_by TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN lease_until INTEGER;

-- media_store = database: each finished JPEG, written with its image's
-- row, served by the responder at the image's URL. An ordinary table,
-- not WITHOUT ROWID: its rows are pictures, far larger than a page.
CREATE TABLE media (
  case_id    TEXT    NOT NULL,
  item_id    TEXT    NOT NULL,
  jpeg       BLOB    NOT NULL,
  sha256     TEXT    NOT NULL,  -- hex: the ETag
  created_at INTEGER NOT NULL,  -- epoch ms
  PRIMARY KEY (case_id, item_id),
  FOREIGN KEY (case_id, item_id) REFERENCES images (case_id, item_id) ON DELETE CASCADE
);

-- The reapers' sweep: generating jobs by the end of their lease.
CREATE INDEX jobs_by_lease ON jobs (lease_until) WHERE status = 'generating';

-- imagegen schema for PostgreSQL, version 21: leases and fencing numbers,
-- deliveries leased, and pictures kept in the database; the twin of
-- sql/021-leases.sql. imagegen initdb runs it, and sets schema_version.
--
-- Every host runs the same imagegen against this database (imagegen(8),
-- SCALING OUT). A worker's claim names its host and process, and grows
-- the job's epoch by one; its heartbeat renews lease_until. Every write a
-- worker makes names its epoch: one that touches no row means another
-- took the job, and the worker stops. A job whose lease has run out is
-- any host's to resume, taken with FOR UPDATE SKIP LOCKED. The worker's
-- process id means something on its own host only:
--   SELECT case_id, host_id, worker_pid, epoch,
--          to_timestamp(lease_until / 1000.0) AS lease_until
--     FROM jobs WHERE status = 'generating';

ALTER TABLE jobs ADD COLUMN host_id TEXT;
ALTER TABLE jobs ADD COLUMN lease_until BIGINT;
ALTER TABLE jobs ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
COMMENT ON COLUMN jobs.host_id IS 'The host whose worker holds the job';
COMMENT ON COLUMN jobs.lease_until IS 'Epoch ms: past it, any host may resume the job';
COMMENT ON COLUMN jobs.epoch IS
  'One more at each claim: every write of a worker names its own, and stops it once moved';

ALTER TABLE webhook_deliveries ADD COLUMN leased_by TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN lease_until BIGINT;
COMMENT ON COLUMN webhook_deliveries.leased_by IS 'The host sending it';
COMMENT ON COLUMN webhook_deliveries.lease_until IS
  'Epoch ms: past it, any host sends it again, under the same webhook-id';

CREATE TABLE media (
  case_id    TEXT COLLATE "C" NOT NULL,
  item_id    TEXT COLLATE "C" NOT NULL,
  jpeg       BYTEA  NOT NULL,
  sha256     TEXT   NOT NULL,  -- hex: the ETag
  created_at BIGINT NOT NULL,  -- epoch ms
  PRIMARY KEY (case_id, item_id),
  FOREIGN KEY (case_id, item_id) REFERENCES images (case_id, item_id) ON DELETE CASCADE
);
-- JPEGs do not compress: PostgreSQL should not try.
ALTER TABLE media ALTER COLUMN jpeg SET STORAGE EXTERNAL;
COMMENT ON TABLE media IS
  'media_store = database: each finished JPEG, written with its image''s row, served by the responder';
COMMENT ON COLUMN media.sha256 IS 'Hex SHA-256 of the JPEG: its ETag';

CREATE INDEX jobs_by_lease ON jobs (lease_until) WHERE status = 'generating';

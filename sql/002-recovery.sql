-- imagegen schema, version 2: crash recovery and metrics.

-- The worker's sign of life, every heartbeat_interval; `imagegen reap`
-- resumes a generating job whose worker is dead or whose heartbeat is stale.
ALTER TABLE jobs ADD COLUMN heartbeat_at INTEGER;

-- How long the image API took to answer the last attempt, for the metrics.
ALTER TABLE images ADD COLUMN api_ms INTEGER;

-- Heartbeats are not changes a polling client needs to see: the version
-- (the status ETag) moves only on the columns the status JSON shows.
DROP TRIGGER jobs_version;
CREATE TRIGGER jobs_version
AFTER UPDATE OF status, total_images, completed_images, failed_images, retry_count,
                last_error, started_at, completed_at ON jobs
WHEN NEW.version = OLD.version
BEGIN
  UPDATE jobs SET version = OLD.version + 1 WHERE case_id = NEW.case_id;
END;

DROP VIEW job_progress;
CREATE VIEW job_progress AS
SELECT j.case_id,
       j.status,
       j.completed_images || '/' || j.total_images AS done,
       j.failed_images AS failed,
       (SELECT count(*) FROM images i
         WHERE i.case_id = j.case_id AND i.status IN ('pending','generating')) AS remaining,
       round(100.0 * j.completed_images / j.total_images, 1) AS percent,
       datetime(j.created_at / 1000, 'unixepoch') AS created,
       CASE WHEN j.started_at IS NULL THEN NULL
            ELSE round((coalesce(j.completed_at, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
                        - j.started_at) / 1000.0, 1) END AS seconds,
       j.worker_pid,
       CASE WHEN j.status = 'generating' AND j.heartbeat_at IS NOT NULL
            THEN round((CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
                        - j.heartbeat_at) / 1000.0, 1) END AS heartbeat_age,
       j.retry_count,
       j.last_error
  FROM jobs j;

-- Housekeeping that any responder may do, at most once per interval:
-- the process that moves last_run forward does it.
CREATE TABLE maintenance (
  name     TEXT    PRIMARY KEY,  -- reap
  last_run INTEGER NOT NULL      -- epoch ms
) WITHOUT ROWID;
INSERT INTO maintenance (name, last_run) VALUES ('reap', 0);

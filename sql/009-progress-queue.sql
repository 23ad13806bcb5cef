-- imagegen schema, version 9: job_progress says which jobs wait queued.
--
-- Past max_inflight, generate and retry leave a job pending with queued_at
-- set (migration 7). job_progress shows how long each has waited, so that
-- a queue building up is seen at a glance:
--   SELECT case_id, queued FROM job_progress WHERE queued IS NOT NULL;

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
       CASE WHEN j.status = 'pending' AND j.queued_at IS NOT NULL
            THEN round((CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
                        - j.queued_at) / 1000.0, 1) END AS queued,
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

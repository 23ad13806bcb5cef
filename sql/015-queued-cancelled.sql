-- imagegen schema, version 15: "queued" and "cancelled" in the status JSON.
--
-- The status answer now shows queued/queuedAt while a job waits for a
-- place under max_inflight (queued_at, migration 7) and
-- cancelled/cancelledAt once a cancel was asked (cancel_requested_at,
-- migration 4). The version (the status ETag) must move when they do, or
-- a poller would keep a 304 for a job that left the queue or was cancelled.
DROP TRIGGER jobs_version;
CREATE TRIGGER jobs_version
AFTER UPDATE OF status, total_images, completed_images, failed_images, retry_count,
                last_error, started_at, completed_at, queued_at, cancel_requested_at ON jobs
WHEN NEW.version = OLD.version AND (
     NEW.status IS NOT OLD.status OR
     NEW.total_images IS NOT OLD.total_images OR
     NEW.completed_images IS NOT OLD.completed_images OR
     NEW.failed_images IS NOT OLD.failed_images OR
     NEW.retry_count IS NOT OLD.retry_count OR
     NEW.last_error IS NOT OLD.last_error OR
     NEW.started_at IS NOT OLD.started_at OR
     NEW.completed_at IS NOT OLD.completed_at OR
     NEW.queued_at IS NOT OLD.queued_at OR
     NEW.cancel_requested_at IS NOT OLD.cancel_requested_at)
BEGIN
  UPDATE jobs SET version = OLD.version + 1 WHERE case_id = NEW.case_id;
END;

-- GET /api/case-images?status=cancelled reads only the cancelled jobs,
-- newest first, however many others there are (?status=queued reads the
-- pending ones through jobs_by_status_created, migration 14):
--   SELECT case_id, status, datetime(cancel_requested_at/1000,'unixepoch') FROM jobs
--    WHERE cancel_requested_at IS NOT NULL ORDER BY created_at DESC, case_id DESC;
CREATE INDEX jobs_cancelled_created ON jobs (created_at, case_id)
 WHERE cancel_requested_at IS NOT NULL;

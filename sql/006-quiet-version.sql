-- imagegen schema, version 6: the version moves only when a value moves.
--
-- Progress updates repeat what is known (each carries every image so
-- far), and an UPDATE that names a column moved the version even when it
-- set the column to its own value: pollers lost their 304s and their
-- responders' kept answers to updates that changed nothing. Now the
-- version (the status ETag) moves only when a column the status JSON
-- shows takes a new value.
DROP TRIGGER jobs_version;
CREATE TRIGGER jobs_version
AFTER UPDATE OF status, total_images, completed_images, failed_images, retry_count,
                last_error, started_at, completed_at ON jobs
WHEN NEW.version = OLD.version AND (
     NEW.status IS NOT OLD.status OR
     NEW.total_images IS NOT OLD.total_images OR
     NEW.completed_images IS NOT OLD.completed_images OR
     NEW.failed_images IS NOT OLD.failed_images OR
     NEW.retry_count IS NOT OLD.retry_count OR
     NEW.last_error IS NOT OLD.last_error OR
     NEW.started_at IS NOT OLD.started_at OR
     NEW.completed_at IS NOT OLD.completed_at)
BEGIN
  UPDATE jobs SET version = OLD.version + 1 WHERE case_id = NEW.case_id;
END;

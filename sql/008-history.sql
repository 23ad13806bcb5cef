-- imagegen schema, version 8: what a retry replaces is kept.
--
-- A retry sets a finished job's failed images back to pending and starts a
-- new run; a webhook report may complete an image this host had failed.
-- The rows as they stood are kept here, so that an operator can still see
-- why the earlier run failed, and so that the metrics' counters, which
-- count these rows too, never go down:
--   SELECT case_id, run, status, last_error FROM past_runs;
--   SELECT case_id, item_id, run, attempts, last_error FROM past_failures;

-- A job's runs before its latest: one row each time it left a final status.
CREATE TABLE past_runs (
  case_id          TEXT    NOT NULL REFERENCES jobs (case_id) ON DELETE CASCADE,
  run              INTEGER NOT NULL,  -- the job's retry_count then: 0 for the first run
  status           TEXT    NOT NULL,  -- how it ended: completed, partial or failed
  completed_images INTEGER NOT NULL,
  failed_images    INTEGER NOT NULL,
  last_error       TEXT,
  started_at       INTEGER,
  completed_at     INTEGER
);
CREATE INDEX past_runs_by_case ON past_runs (case_id, run);

-- An image's failures since replaced: one row each time it left 'failed'.
CREATE TABLE past_failures (
  case_id     TEXT    NOT NULL REFERENCES jobs (case_id) ON DELETE CASCADE,
  item_id     TEXT    NOT NULL,
  run         INTEGER NOT NULL,  -- the job's retry_count when it failed
  attempts    INTEGER NOT NULL,
  last_error  TEXT,
  api_ms      INTEGER,
  finished_at INTEGER,
  replaced_by TEXT    NOT NULL   -- pending: a retry; completed: a webhook report
);
CREATE INDEX past_failures_by_case ON past_failures (case_id, item_id);

CREATE TRIGGER jobs_past_run AFTER UPDATE OF status ON jobs
WHEN OLD.status IN ('completed', 'partial', 'failed')
 AND NEW.status IN ('pending', 'generating')
BEGIN
  INSERT INTO past_runs (case_id, run, status, completed_images, failed_images,
                         last_error, started_at, completed_at)
  VALUES (OLD.case_id, OLD.retry_count, OLD.status, OLD.completed_images,
          OLD.failed_images, OLD.last_error, OLD.started_at, OLD.completed_at);
END;

CREATE TRIGGER images_past_failure AFTER UPDATE OF status ON images
WHEN OLD.status = 'failed' AND NEW.status <> 'failed'
BEGIN
  INSERT INTO past_failures (case_id, item_id, run, attempts, last_error, api_ms,
                             finished_at, replaced_by)
  VALUES (OLD.case_id, OLD.item_id,
          (SELECT retry_count FROM jobs WHERE case_id = OLD.case_id),
          OLD.attempts, OLD.last_error, OLD.api_ms, OLD.finished_at, NEW.status);
END;

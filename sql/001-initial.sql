-- imagegen schema, version 1.
--
-- Times are epoch milliseconds (the reference's JSON uses them too);
-- in the sqlite3 shell, datetime(created_at/1000,'unixepoch') shows one.

-- One row per case: the reference's ImageGenerationJob.
CREATE TABLE jobs (
  case_id          TEXT    PRIMARY KEY,
  status           TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending','generating','completed','partial','failed')),
  total_images     INTEGER NOT NULL CHECK (total_images > 0),
  completed_images INTEGER NOT NULL DEFAULT 0,
  failed_images    INTEGER NOT NULL DEFAULT 0,
  retry_count      INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  webhook_url      TEXT,
  request_hash     TEXT    NOT NULL,  -- SHA-256 of the request, for idempotent resubmission
  worker_pid       INTEGER,           -- pid of the worker that last claimed the job
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  completed_at     INTEGER,
  updated_at       INTEGER NOT NULL,
  version          INTEGER NOT NULL DEFAULT 1  -- bumped on every change; the status ETag
) WITHOUT ROWID;

CREATE INDEX jobs_by_status ON jobs (status, updated_at);

-- One row per image of a case, in the order the worker generates them.
CREATE TABLE images (
  case_id     TEXT    NOT NULL REFERENCES jobs (case_id) ON DELETE CASCADE,
  item_id     TEXT    NOT NULL,
  kind        TEXT    NOT NULL CHECK (kind IN ('evidence','location')),
  position    INTEGER NOT NULL,     -- order within the case: evidence first, then locations
  name        TEXT    NOT NULL,
  description TEXT    NOT NULL,
  status      TEXT    NOT NULL DEFAULT 'pending'
              CHECK (status IN ('pending','generating','completed','failed')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  last_error  TEXT,
  path        TEXT,                 -- file under media_dir once completed
  url         TEXT,                 -- what clients fetch
  bytes       INTEGER,              -- size of the JPEG written
  started_at  INTEGER,
  finished_at INTEGER,
  PRIMARY KEY (case_id, item_id)
) WITHOUT ROWID;

-- Every outbound progress webhook: one row per update, attempts counted.
CREATE TABLE webhook_deliveries (
  id              INTEGER PRIMARY KEY,
  case_id         TEXT    NOT NULL REFERENCES jobs (case_id) ON DELETE CASCADE,
  event           TEXT    NOT NULL,  -- start, progress or final
  url             TEXT    NOT NULL,
  payload         TEXT    NOT NULL,  -- the ImageProgressUpdate JSON sent
  status          TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending','delivered','failed','superseded')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  response_code   INTEGER,
  last_error      TEXT,
  latency_ms      INTEGER,           -- of the last attempt
  created_at      INTEGER NOT NULL,
  next_attempt_at INTEGER,
  delivered_at    INTEGER
);

CREATE INDEX webhook_deliveries_by_case ON webhook_deliveries (case_id, id);

-- Any change to a job or its images moves the job's version, so a repair
-- made by hand in the sqlite3 shell also invalidates the clients' ETags.
CREATE TRIGGER jobs_version AFTER UPDATE ON jobs
WHEN NEW.version = OLD.version
BEGIN
  UPDATE jobs SET version = OLD.version + 1 WHERE case_id = NEW.case_id;
END;

CREATE TRIGGER images_version AFTER UPDATE ON images
BEGIN
  UPDATE jobs SET version = version + 1 WHERE case_id = NEW.case_id;
END;

-- Per-job progress, for operators.
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
       j.last_error
  FROM jobs j;

-- The reference's legacy per-case image status ('ready' once completed).
CREATE VIEW case_image_status AS
SELECT case_id,
       CASE status WHEN 'completed' THEN 'ready' ELSE status END AS status,
       completed_at
  FROM jobs;

-- imagegen schema for PostgreSQL, version 20, in one file.
--
-- This is the SQLite schema of sql/001-initial.sql .. sql/019-models.sql
-- as it stands after the last of them, less the state-host dispatch
-- (migrations 16-18: dispatches, dispatch_reaper, dispatch_jobs,
-- dispatch_handed, dispatch_updates and images.worker_host), which many
-- hosts on one PostgreSQL replace. Version 20 is SQLite's 19 without that
-- dispatch: later migrations come in pairs, sql/NNN-name.sql for SQLite
-- and its PostgreSQL twin, each with the next number.
--
-- The version: SQLite keeps it in PRAGMA user_version; here it is the one
-- row of schema_version (below), written in the same transaction as the
-- schema, so a database has either all of this file and version 20 or
-- none of it:
--   SELECT version FROM schema_version;
-- A later migration moves it with
--   UPDATE schema_version SET version = 21, applied_at = ... WHERE version = 20
-- in its own transaction, and finds it already done when that touches no row.
--
-- Apply it to an empty database in one transaction, as the role imagegen
-- connects as (it owns what this creates), stopping at the first error:
--   psql -v ON_ERROR_STOP=1 --single-transaction -f schema.sql 'postgresql://imagegen@HOST/imagegen'
-- It has no BEGIN or COMMIT of its own, so that `imagegen initdb` may run
-- it inside its transaction, under its advisory lock. It needs no
-- extension.
--
-- How it reads beside SQLite's:
--   - Times are epoch milliseconds in BIGINT, as there; to read one:
--       to_timestamp(created_at / 1000.0)
--     (the views' "created" is UTC text, as SQLite's datetime() gives it).
--   - Every column SQLite declares INTEGER is BIGINT here: SQLite's
--     integers are 64-bit, and the C code reads them all alike. Flags
--     stay 0/1 integers with their CHECK, as there.
--   - Identifiers (case_id, item_id) collate "C": they sort byte by byte,
--     as SQLite's BINARY collation does, whatever the database's locale,
--     so a list pages the same on both engines.
--   - A SQLite "INTEGER PRIMARY KEY" is an identity column; where a
--     statement there uses the implicit rowid (provider_checks), it is a
--     column here.
--   - Triggers are PL/pgSQL functions of the trigger's name.
--   - Every table and view has a COMMENT: \dt+ and \dv+ in psql show it,
--     \d+ TABLE the columns'.

-- The schema's version: one row.
CREATE TABLE schema_version (
  version    BIGINT NOT NULL,  -- 20: SQLite's user_version 19, without the dispatch
  applied_at BIGINT NOT NULL   -- epoch ms
);
CREATE UNIQUE INDEX schema_version_one_row ON schema_version ((true));
COMMENT ON TABLE schema_version IS
  'The schema''s version (SQLite: PRAGMA user_version); one row';
INSERT INTO schema_version (version, applied_at)
VALUES (20, floor(extract(epoch FROM clock_timestamp()) * 1000));

-- One row per case: the reference's ImageGenerationJob.
CREATE TABLE jobs (
  case_id             TEXT COLLATE "C" PRIMARY KEY,
  status              TEXT   NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending','generating','completed','partial','failed')),
  total_images        BIGINT NOT NULL CHECK (total_images > 0),
  completed_images    BIGINT NOT NULL DEFAULT 0,
  failed_images       BIGINT NOT NULL DEFAULT 0,
  retry_count         BIGINT NOT NULL DEFAULT 0,
  last_error          TEXT,
  webhook_url         TEXT,
  request_hash        TEXT   NOT NULL,  -- SHA-256 of the request, for idempotent resubmission
  worker_pid          BIGINT,           -- pid of the worker that last claimed the job
  created_at          BIGINT NOT NULL,
  started_at          BIGINT,
  completed_at        BIGINT,
  updated_at          BIGINT NOT NULL,
  version             BIGINT NOT NULL DEFAULT 1,  -- moves when the status JSON does; the status ETag
  heartbeat_at        BIGINT,  -- the worker's sign of life, every heartbeat_interval
  cancel_requested_at BIGINT,  -- set by .../cancel; cleared by a retry
  queued_at           BIGINT   -- pending and waiting for a place under max_inflight
);
COMMENT ON TABLE jobs IS 'One row per case: the reference''s ImageGenerationJob';
COMMENT ON COLUMN jobs.request_hash IS 'SHA-256 of the request, for idempotent resubmission';
COMMENT ON COLUMN jobs.worker_pid IS 'pid of the worker that last claimed the job';
COMMENT ON COLUMN jobs.version IS
  'Moves when a column the status JSON shows takes a new value: the status ETag';
COMMENT ON COLUMN jobs.heartbeat_at IS
  'The worker''s sign of life; imagegen reap resumes a generating job whose worker is dead or silent';
COMMENT ON COLUMN jobs.cancel_requested_at IS
  'Set by POST .../cancel: the worker aborts its requests and ends the job. Cleared by a retry';
COMMENT ON COLUMN jobs.queued_at IS
  'A pending job waiting for a place under max_inflight; the worker that claims it clears it';

CREATE INDEX jobs_by_status ON jobs (status, updated_at);
-- GET /api/case-images pages through the jobs by (created_at, case_id),
-- newest first, all of them or those of one status.
CREATE INDEX jobs_by_created ON jobs (created_at, case_id);
CREATE INDEX jobs_by_status_created ON jobs (status, created_at, case_id);
-- ?status=cancelled reads only the cancelled jobs.
CREATE INDEX jobs_cancelled_created ON jobs (created_at, case_id)
 WHERE cancel_requested_at IS NOT NULL;

-- One row per image of a case, in the order the worker generates them.
CREATE TABLE images (
  case_id       TEXT COLLATE "C" NOT NULL REFERENCES jobs (case_id) ON DELETE CASCADE,
  item_id       TEXT COLLATE "C" NOT NULL,
  kind          TEXT   NOT NULL CHECK (kind IN ('evidence','location')),
  position      BIGINT NOT NULL,  -- order within the case: evidence first, then locations
  name          TEXT   NOT NULL,
  description   TEXT   NOT NULL,
  status        TEXT   NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending','generating','completed','failed')),
  attempts      BIGINT NOT NULL DEFAULT 0,
  last_error    TEXT,
  path          TEXT,    -- file under media_dir once completed
  url           TEXT,    -- what clients fetch
  bytes         BIGINT,  -- size of the JPEG written
  started_at    BIGINT,
  finished_at   BIGINT,
  api_ms        BIGINT,  -- how long the image API took to answer the last attempt
  provider      TEXT,    -- gemini, openai or local: who made it, or last tried
  model         TEXT,    -- as the provider was asked for it
  prompt_tokens BIGINT,  -- usage, when the provider says
  output_tokens BIGINT,
  interrupted   BIGINT NOT NULL DEFAULT 0,  -- attempts a crash cut off, not counted in attempts
  PRIMARY KEY (case_id, item_id)
);
COMMENT ON TABLE images IS
  'One row per image of a case, in the order the worker generates them';
COMMENT ON COLUMN images.position IS 'Order within the case: evidence first, then locations';
COMMENT ON COLUMN images.path IS 'File under media_dir once completed';
COMMENT ON COLUMN images.url IS 'What clients fetch';
COMMENT ON COLUMN images.bytes IS 'Size of the JPEG written';
COMMENT ON COLUMN images.api_ms IS 'How long the image API took to answer the last attempt';
COMMENT ON COLUMN images.provider IS 'gemini, openai or local: who made it, or last tried';
COMMENT ON COLUMN images.model IS 'The model, as the provider was asked for it';
COMMENT ON COLUMN images.interrupted IS
  'Attempts whose worker died with the request out: taken back from attempts, which retry_attempts limits';

-- Every outbound progress webhook, an outbox: a worker writes each
-- update's row in the same transaction as the change it reports, before
-- anything is sent; a newer row of a case supersedes its older pending
-- ones. webhook_id is what the receiver sees in the webhook-id header:
-- the case id and 64 random bits, never the row id.
CREATE TABLE webhook_deliveries (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id         TEXT COLLATE "C" NOT NULL REFERENCES jobs (case_id) ON DELETE CASCADE,
  event           TEXT   NOT NULL,  -- start, progress or final
  url             TEXT   NOT NULL,
  payload         TEXT   NOT NULL,  -- the ImageProgressUpdate JSON sent
  status          TEXT   NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending','delivered','failed','superseded')),
  attempts        BIGINT NOT NULL DEFAULT 0,
  response_code   BIGINT,
  last_error      TEXT,
  latency_ms      BIGINT,  -- of the last attempt
  created_at      BIGINT NOT NULL,
  next_attempt_at BIGINT,
  delivered_at    BIGINT,
  webhook_id      TEXT     -- the webhook-id header: case id and 64 random bits
);
COMMENT ON TABLE webhook_deliveries IS
  'Every outbound progress webhook, an outbox: written with the change it reports, then sent';
COMMENT ON COLUMN webhook_deliveries.event IS 'start, progress or final';
COMMENT ON COLUMN webhook_deliveries.payload IS 'The ImageProgressUpdate JSON sent';
COMMENT ON COLUMN webhook_deliveries.latency_ms IS 'Of the last attempt';
COMMENT ON COLUMN webhook_deliveries.webhook_id IS
  'What the receiver sees in the webhook-id header: the case id and 64 random bits, never the row id';

CREATE INDEX webhook_deliveries_by_case ON webhook_deliveries (case_id, id);
CREATE UNIQUE INDEX webhook_deliveries_by_webhook_id ON webhook_deliveries (webhook_id);
-- The rows still to send, found without reading a case's delivered ones.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (case_id, id)
 WHERE status = 'pending';

-- Housekeeping that any responder may do, at most once per interval:
-- the process that moves last_run forward does it.
CREATE TABLE maintenance (
  name     TEXT   PRIMARY KEY,  -- reap
  last_run BIGINT NOT NULL      -- epoch ms
);
COMMENT ON TABLE maintenance IS
  'Housekeeping any responder may do at most once per interval: who moves last_run forward does it';
INSERT INTO maintenance (name, last_run) VALUES ('reap', 0);

-- One row per request sent to the image API in the last minute, per
-- provider; a worker may send one more only while fewer than rate_limit
-- rows are younger than 60 s. Older rows are deleted as new ones are added.
CREATE TABLE api_calls (
  at       BIGINT NOT NULL,  -- epoch ms
  case_id  TEXT COLLATE "C" NOT NULL,
  provider TEXT   NOT NULL DEFAULT ''
);
COMMENT ON TABLE api_calls IS
  'Requests sent to the image API in the last minute, per provider: the rate_limit''s window';
CREATE INDEX api_calls_by_time ON api_calls (at);
CREATE INDEX api_calls_by_provider ON api_calls (provider, at);

-- The webhook-ids of verified progress updates of the last minutes: the
-- same id again is a replay, refused.
CREATE TABLE webhook_seen (
  id          TEXT   PRIMARY KEY,  -- the sender's webhook-id
  accepted_at BIGINT NOT NULL      -- epoch ms
);
COMMENT ON TABLE webhook_seen IS
  'The webhook-ids of verified inbound progress updates of the last minutes: the same id again is a replay';

-- What a retry replaces is kept, so that an operator can still see why
-- an earlier run failed, and so that the metrics' counters never go down:
--   SELECT case_id, run, status, last_error FROM past_runs;
--   SELECT case_id, item_id, run, attempts, last_error FROM past_failures;

-- A job's runs before its latest: one row each time it left a final status.
CREATE TABLE past_runs (
  case_id          TEXT COLLATE "C" NOT NULL REFERENCES jobs (case_id) ON DELETE CASCADE,
  run              BIGINT NOT NULL,  -- the job's retry_count then: 0 for the first run
  status           TEXT   NOT NULL,  -- how it ended: completed, partial or failed
  completed_images BIGINT NOT NULL,
  failed_images    BIGINT NOT NULL,
  last_error       TEXT,
  started_at       BIGINT,
  completed_at     BIGINT
);
COMMENT ON TABLE past_runs IS
  'A job''s runs before its latest: one row each time it left a final status (trigger jobs_past_run)';
COMMENT ON COLUMN past_runs.run IS 'The job''s retry_count then: 0 for the first run';
CREATE INDEX past_runs_by_case ON past_runs (case_id, run);

-- An image's failures since replaced: one row each time it left 'failed'.
CREATE TABLE past_failures (
  case_id     TEXT COLLATE "C" NOT NULL REFERENCES jobs (case_id) ON DELETE CASCADE,
  item_id     TEXT COLLATE "C" NOT NULL,
  run         BIGINT NOT NULL,  -- the job's retry_count when it failed
  attempts    BIGINT NOT NULL,
  last_error  TEXT,
  api_ms      BIGINT,
  finished_at BIGINT,
  replaced_by TEXT   NOT NULL,  -- pending: a retry; completed: a webhook report
  provider    TEXT,
  model       TEXT
);
COMMENT ON TABLE past_failures IS
  'An image''s failures since replaced: one row each time it left failed (trigger images_past_failure)';
COMMENT ON COLUMN past_failures.run IS 'The job''s retry_count when it failed';
COMMENT ON COLUMN past_failures.replaced_by IS 'pending: a retry; completed: a webhook report';
CREATE INDEX past_failures_by_case ON past_failures (case_id, item_id);

-- What `imagegen check` found: one row per model each time an operator
-- runs it. The responder warns at start-up when a configured provider's
-- last check failed, or was never run.
--   SELECT provider, model, ok, detail, to_timestamp(checked_at / 1000.0)
--     FROM provider_checks ORDER BY checked_at DESC LIMIT 10;
CREATE TABLE provider_checks (
  provider   TEXT   NOT NULL,  -- gemini, openai or local
  model      TEXT,             -- the model the configuration named
  ok         BIGINT NOT NULL CHECK (ok IN (0, 1)),
  detail     TEXT   NOT NULL,  -- what check printed for it
  checked_at BIGINT NOT NULL,  -- epoch ms
  -- SQLite's implicit rowid, which orders two checks of the same
  -- millisecond; a column here.
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
);
COMMENT ON TABLE provider_checks IS 'What imagegen check found: one row per model per run';
COMMENT ON COLUMN provider_checks.detail IS 'What check printed for it';
COMMENT ON COLUMN provider_checks.id IS
  'SQLite''s implicit rowid: orders two checks of the same millisecond';
CREATE INDEX provider_checks_by_provider ON provider_checks (provider, checked_at);
CREATE INDEX provider_checks_by_model ON provider_checks (provider, model, checked_at);

-- What is known of each configured model. A model a provider says is gone
-- is marked retired here: every later job, in every process, skips it
-- without a call. `imagegen check` clears the mark when the provider
-- lists the model again; an operator may clear it by hand:
--   UPDATE models SET retired_at = NULL, retired_kind = NULL,
--     retired_reason = NULL WHERE provider = 'gemini' AND model = '...';
CREATE TABLE models (
  provider       TEXT   NOT NULL,  -- gemini or openai
  model          TEXT   NOT NULL,  -- as gemini_model or openai_model names it
  retired_at     BIGINT,           -- epoch ms a provider said it is gone; NULL while it works
  retired_kind   TEXT CHECK (retired_kind IN ('retired', 'no-images')),
  retired_reason TEXT,             -- the provider's own words, and the setting to change
  stage          TEXT,             -- the lifecycle stage an answer last gave: DEPRECATED, ...
  retires_at     BIGINT,           -- the retirement announced, epoch ms; NULL when none is
  updated_at     BIGINT NOT NULL,  -- epoch ms
  PRIMARY KEY (provider, model)
);
COMMENT ON TABLE models IS
  'What is known of each configured model: retired ones are skipped by every job without a call';
COMMENT ON COLUMN models.retired_at IS 'Epoch ms a provider said it is gone; NULL while it works';
COMMENT ON COLUMN models.retired_reason IS 'The provider''s own words, and the setting to change';
COMMENT ON COLUMN models.stage IS 'The lifecycle stage an answer last gave: DEPRECATED, ...';
COMMENT ON COLUMN models.retires_at IS 'The retirement announced, epoch ms; NULL when none is';

-- Triggers. SQLite runs a trigger's statements in place; here each is a
-- function of the trigger's name.

-- The version (the status ETag) moves only when a column the status JSON
-- shows takes a new value, so that a repair made by hand in psql also
-- invalidates the clients' ETags, and heartbeats or updates that repeat
-- what is known do not. An UPDATE that sets version itself is left alone.
-- (SQLite's is an AFTER trigger that updates the row again; setting NEW
-- before the write does the same in one row version.)
CREATE FUNCTION jobs_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END
$$;
CREATE TRIGGER jobs_version
BEFORE UPDATE OF status, total_images, completed_images, failed_images, retry_count,
                 last_error, started_at, completed_at, queued_at, cancel_requested_at ON jobs
FOR EACH ROW
WHEN (NEW.version = OLD.version AND (
      NEW.status IS DISTINCT FROM OLD.status OR
      NEW.total_images IS DISTINCT FROM OLD.total_images OR
      NEW.completed_images IS DISTINCT FROM OLD.completed_images OR
      NEW.failed_images IS DISTINCT FROM OLD.failed_images OR
      NEW.retry_count IS DISTINCT FROM OLD.retry_count OR
      NEW.last_error IS DISTINCT FROM OLD.last_error OR
      NEW.started_at IS DISTINCT FROM OLD.started_at OR
      NEW.completed_at IS DISTINCT FROM OLD.completed_at OR
      NEW.queued_at IS DISTINCT FROM OLD.queued_at OR
      NEW.cancel_requested_at IS DISTINCT FROM OLD.cancel_requested_at))
EXECUTE FUNCTION jobs_version();

-- Any update of an image moves its job's version.
CREATE FUNCTION images_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE jobs SET version = version + 1 WHERE case_id = NEW.case_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER images_version AFTER UPDATE ON images
FOR EACH ROW EXECUTE FUNCTION images_version();

-- A job leaving a final status (a retry) keeps the run it ends in past_runs.
CREATE FUNCTION jobs_past_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO past_runs (case_id, run, status, completed_images, failed_images,
                         last_error, started_at, completed_at)
  VALUES (OLD.case_id, OLD.retry_count, OLD.status, OLD.completed_images,
          OLD.failed_images, OLD.last_error, OLD.started_at, OLD.completed_at);
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_past_run AFTER UPDATE OF status ON jobs
FOR EACH ROW
WHEN (OLD.status IN ('completed', 'partial', 'failed')
      AND NEW.status IN ('pending', 'generating'))
EXECUTE FUNCTION jobs_past_run();

-- An image leaving 'failed' (a retry, or a webhook report that completes
-- it) keeps the failure in past_failures, under the job's current run.
CREATE FUNCTION images_past_failure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO past_failures (case_id, item_id, run, attempts, last_error, api_ms,
                             finished_at, replaced_by, provider, model)
  VALUES (OLD.case_id, OLD.item_id,
          (SELECT retry_count FROM jobs WHERE case_id = OLD.case_id),
          OLD.attempts, OLD.last_error, OLD.api_ms, OLD.finished_at, NEW.status,
          OLD.provider, OLD.model);
  RETURN NULL;
END
$$;
CREATE TRIGGER images_past_failure AFTER UPDATE OF status ON images
FOR EACH ROW
WHEN (OLD.status = 'failed' AND NEW.status <> 'failed')
EXECUTE FUNCTION images_past_failure();

-- Views, for operators.

-- Per-job progress: done/total, what remains, when it was created (UTC),
-- how long a queued job has waited, how long it ran, and how old a
-- generating job's heartbeat is, in seconds:
--   SELECT * FROM job_progress ORDER BY created DESC;
--   SELECT case_id, worker_pid, heartbeat_age FROM job_progress
--    WHERE status = 'generating';
CREATE VIEW job_progress AS
SELECT j.case_id,
       j.status,
       j.completed_images || '/' || j.total_images AS done,
       j.failed_images AS failed,
       (SELECT count(*) FROM images i
         WHERE i.case_id = j.case_id AND i.status IN ('pending','generating')) AS remaining,
       round(100.0 * j.completed_images / j.total_images, 1) AS percent,
       to_char(to_timestamp(j.created_at / 1000) AT TIME ZONE 'UTC',
               'YYYY-MM-DD HH24:MI:SS') AS created,
       CASE WHEN j.status = 'pending' AND j.queued_at IS NOT NULL
            THEN round((now.ms - j.queued_at) / 1000.0, 1) END AS queued,
       CASE WHEN j.started_at IS NULL THEN NULL
            ELSE round((coalesce(j.completed_at, now.ms) - j.started_at) / 1000.0, 1) END AS seconds,
       j.worker_pid,
       CASE WHEN j.status = 'generating' AND j.heartbeat_at IS NOT NULL
            THEN round((now.ms - j.heartbeat_at) / 1000.0, 1) END AS heartbeat_age,
       j.retry_count,
       j.last_error
  FROM jobs j
 CROSS JOIN (SELECT floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint) AS now (ms);
COMMENT ON VIEW job_progress IS
  'Per-job progress for operators: done/total, remaining, created (UTC), queued, seconds, heartbeat_age';

-- The reference's legacy per-case image status ('ready' once completed).
CREATE VIEW case_image_status AS
SELECT case_id,
       CASE status WHEN 'completed' THEN 'ready' ELSE status END AS status,
       completed_at
  FROM jobs;
COMMENT ON VIEW case_image_status IS
  'The reference''s legacy per-case image status (''ready'' once completed)';

-- imagegen schema, version 16: scaling out across hosts (imagegen(8),
-- SCALING OUT). One binary, two roles; each keeps its own tables.
--
-- On a state host (dispatch_url set), a job that is dispatched to the
-- worker hosts instead of a local worker has one row here. dispatch_id is
-- the current dispatch: updates that carry another one are refused (409),
-- and the worker that sent them stops. A dispatch that could not be
-- delivered is 'queued' until next_at; one that went quiet for stale_after
-- is dispatched again under a new id (generation counts them):
--   SELECT case_id, state, generation, worker_host,
--          datetime(heard_at/1000, 'unixepoch') FROM dispatches;
CREATE TABLE dispatches (
  case_id     TEXT    PRIMARY KEY REFERENCES jobs (case_id) ON DELETE CASCADE,
  dispatch_id TEXT    NOT NULL,
  state       TEXT    NOT NULL DEFAULT 'queued'
              CHECK (state IN ('queued','sent','done')),
  generation  INTEGER NOT NULL DEFAULT 1,
  attempts    INTEGER NOT NULL DEFAULT 0,  -- failed deliveries of this dispatch
  next_at     INTEGER,                     -- queued: when the reaper tries again
  sent_at     INTEGER,
  heard_at    INTEGER,                     -- the last update of the current dispatch
  worker_host TEXT,                        -- who sent it
  last_error  TEXT
) WITHOUT ROWID;
CREATE INDEX dispatches_open ON dispatches (state, next_at) WHERE state <> 'done';

-- When the state host's reaper last looked at the dispatches. After a gap
-- longer than stale_after (the state host was down, or nothing woke its
-- reaper), the dispatches sent get stale_after afresh: their worker hosts'
-- updates wait in their outboxes, and are not silence.
CREATE TABLE dispatch_reaper (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  last_run INTEGER NOT NULL
);
INSERT INTO dispatch_reaper (id, last_run) VALUES (1, 0);

-- On a worker host: the dispatch a local job runs under, which every one
-- of its updates carries, and the images the state host has acknowledged
-- (their bytes crossed once; the local file is gone).
CREATE TABLE dispatch_jobs (
  case_id     TEXT    PRIMARY KEY REFERENCES jobs (case_id) ON DELETE CASCADE,
  dispatch_id TEXT    NOT NULL,
  received_at INTEGER NOT NULL,
  fenced_at   INTEGER                      -- the state host answered 409: stopped
) WITHOUT ROWID;
CREATE TABLE dispatch_handed (
  case_id   TEXT    NOT NULL REFERENCES jobs (case_id) ON DELETE CASCADE,
  item_id   TEXT    NOT NULL,
  handed_at INTEGER NOT NULL,
  PRIMARY KEY (case_id, item_id)
) WITHOUT ROWID;

-- On a state host: the worker host that made each image.
ALTER TABLE images ADD COLUMN worker_host TEXT;

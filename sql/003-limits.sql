-- imagegen schema, version 3: the image API's rate limit, shared by every worker.

-- One row per request sent to the image API in the last minute; a worker
-- may send one more only while fewer than rate_limit rows are younger
-- than 60 s. Older rows are deleted as new ones are added.
CREATE TABLE api_calls (
  at      INTEGER NOT NULL,  -- epoch ms
  case_id TEXT    NOT NULL
);
CREATE INDEX api_calls_by_time ON api_calls (at);

-- imagegen schema, version 11: what `imagegen check` found.
--
-- One row per provider each time an operator runs `imagegen check`: did
-- the key work, is the model listed and able to make images. The
-- FastCGI responder warns at start-up when a configured provider's last
-- check failed, or was never run.
--   SELECT provider, model, ok, detail, datetime(checked_at/1000,'unixepoch')
--     FROM provider_checks ORDER BY checked_at DESC LIMIT 10;

CREATE TABLE provider_checks (
  provider   TEXT    NOT NULL,  -- gemini, imagen, openai or local
  model      TEXT,              -- the model the configuration named
  ok         INTEGER NOT NULL CHECK (ok IN (0, 1)),
  detail     TEXT    NOT NULL,  -- what check printed for it
  checked_at INTEGER NOT NULL   -- epoch ms
);
CREATE INDEX provider_checks_by_provider ON provider_checks (provider, checked_at);

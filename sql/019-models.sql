-- imagegen schema, version 19: what is known of each configured model.
--
-- A model a provider says is gone (404, model_not_found, modelStage
-- RETIRED) is marked retired here, with the time and the provider's own
-- words: every later job, in every process, skips it without a call and
-- goes on with the next model of gemini_model or openai_model.
-- `imagegen check` clears the mark when the provider lists the model
-- again; an operator may clear it by hand:
--   UPDATE models SET retired_at = NULL, retired_kind = NULL,
--     retired_reason = NULL WHERE provider = 'gemini' AND model = '...';
-- What the providers announce (Gemini's modelStatus in each answer,
-- OpenAI's shutdown_date in its model list) is kept too:
--   SELECT provider, model, stage, datetime(retires_at/1000, 'unixepoch') AS retires,
--          datetime(retired_at/1000, 'unixepoch') AS retired, retired_reason
--     FROM models ORDER BY provider, model;

CREATE TABLE models (
  provider       TEXT    NOT NULL,  -- gemini or openai
  model          TEXT    NOT NULL,  -- as gemini_model or openai_model names it
  retired_at     INTEGER,           -- epoch ms a provider said it is gone; NULL while it works
  retired_kind   TEXT CHECK (retired_kind IN ('retired', 'no-images')),
  retired_reason TEXT,              -- the provider's own words, and the setting to change
  stage          TEXT,              -- the lifecycle stage an answer last gave: DEPRECATED, ...
  retires_at     INTEGER,           -- the retirement announced, epoch ms; NULL when none is
  updated_at     INTEGER NOT NULL,  -- epoch ms
  PRIMARY KEY (provider, model)
);

-- `imagegen check` now checks each model, not each provider.
CREATE INDEX provider_checks_by_model ON provider_checks (provider, model, checked_at);

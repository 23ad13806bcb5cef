-- imagegen schema, version 10: which provider and model made each image.
--
-- A case's images may come from several providers (`providers`, in
-- failover order): each row says which one made it, or last tried it,
-- and what the picture cost in tokens as the provider reported them.
--   SELECT item_id, status, provider, model, output_tokens FROM images
--    WHERE case_id = 'case-1';
--   SELECT provider, count(*), sum(output_tokens) FROM images
--    WHERE status = 'completed' GROUP BY provider;

ALTER TABLE images ADD COLUMN provider TEXT;       -- gemini, imagen, openai or local
ALTER TABLE images ADD COLUMN model TEXT;          -- as the provider was asked for it
ALTER TABLE images ADD COLUMN prompt_tokens INTEGER;  -- usage, when the provider says
ALTER TABLE images ADD COLUMN output_tokens INTEGER;

-- A failure a retry replaces keeps its provider, for the metrics by provider.
ALTER TABLE past_failures ADD COLUMN provider TEXT;
ALTER TABLE past_failures ADD COLUMN model TEXT;

DROP TRIGGER images_past_failure;
CREATE TRIGGER images_past_failure AFTER UPDATE OF status ON images
WHEN OLD.status = 'failed' AND NEW.status <> 'failed'
BEGIN
  INSERT INTO past_failures (case_id, item_id, run, attempts, last_error, api_ms,
                             finished_at, replaced_by, provider, model)
  VALUES (OLD.case_id, OLD.item_id,
          (SELECT retry_count FROM jobs WHERE case_id = OLD.case_id),
          OLD.attempts, OLD.last_error, OLD.api_ms, OLD.finished_at, NEW.status,
          OLD.provider, OLD.model);
END;

-- Each provider has its own quota: rate_limit counts each one's calls.
ALTER TABLE api_calls ADD COLUMN provider TEXT NOT NULL DEFAULT '';
CREATE INDEX api_calls_by_provider ON api_calls (provider, at);

-- imagegen schema, version 13: attempts a crash interrupted are counted apart.
--
-- An image whose worker died while its request was out (SIGKILL, the OOM
-- killer, a reboot) is found 'generating' by the next worker. That attempt
-- got no answer from the image API: it is taken back from attempts, which
-- retry_attempts limits, and counted here instead. Only answers spend the
-- retry budget; crashes do not turn a transient fault into a failure.
--   SELECT case_id, item_id, attempts, interrupted FROM images
--    WHERE interrupted > 0;
-- A retry leaves it as it is: the metrics' counter never goes down.

ALTER TABLE images ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;

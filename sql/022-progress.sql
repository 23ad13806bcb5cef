-- imagegen schema, version 22: the webhook-ids of signed progress updates
-- found by their age (sql/pg/022-progress.sql is its PostgreSQL twin,
-- which also gives that engine the update's function).
--
-- Each signed update forgets the ids older than the replay window
-- (ten minutes, SIGN_REPLAY_MS) before it records its own. Without this index that was a
-- scan of every id of the window, on every update: at 1,000 updates a
-- second, a million rows read to delete a thousand.
CREATE INDEX webhook_seen_by_time ON webhook_seen (accepted_at);

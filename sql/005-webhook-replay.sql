-- imagegen schema, version 5: signed inbound webhooks.

-- The webhook-ids of verified progress updates of the last minutes: the
-- same id again is a replay, refused. Ids older than the timestamp
-- tolerance are forgotten: such a message is refused for its timestamp.
CREATE TABLE webhook_seen (
  id          TEXT    PRIMARY KEY,  -- the sender's webhook-id
  accepted_at INTEGER NOT NULL      -- epoch ms
) WITHOUT ROWID;

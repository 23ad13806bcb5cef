-- imagegen schema, version 12: webhook_deliveries is an outbox.
--
-- A worker writes each progress update's row in the same transaction as
-- the change it reports (its claim, an image done or failed, the final
-- status), before anything is sent: a worker killed a moment later leaves
-- the update here, and `imagegen reap` sends it. A newer row of a case
-- supersedes the older pending ones: they are marked superseded and never
-- sent, so nothing older arrives after the final.
--
-- webhook_id is what the receiver sees in the webhook-id header: the case
-- id and 64 random bits, never a row id, which SQLite reuses once the
-- rows of a deleted case are gone. A receiver that drops repeated ids (as
-- Standard Webhooks asks) never drops a new job's update:
--   SELECT webhook_id, event, status, attempts FROM webhook_deliveries
--    WHERE case_id = 'y1' ORDER BY id;

ALTER TABLE webhook_deliveries ADD COLUMN webhook_id TEXT;
-- Rows already sent keep the id they were sent with.
UPDATE webhook_deliveries SET webhook_id = case_id || '-' || id;
CREATE UNIQUE INDEX webhook_deliveries_by_webhook_id ON webhook_deliveries (webhook_id);

-- The rows still to send, found without reading a case's delivered ones:
-- each new row supersedes these, the worker sends the newest, the reaper
-- sends what workers left.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (case_id, id)
 WHERE status = 'pending';

-- Of what earlier versions left pending, only each case's newest is sent.
UPDATE webhook_deliveries SET status = 'superseded'
 WHERE status = 'pending'
   AND id < (SELECT max(d.id) FROM webhook_deliveries d
              WHERE d.case_id = webhook_deliveries.case_id AND d.status = 'pending');

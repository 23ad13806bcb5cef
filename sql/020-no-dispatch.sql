-- imagegen schema, version 20: the state-host dispatch is gone.
--
-- Scaling out no longer goes through a state host that dispatched jobs
-- to worker hosts over signed HTTP (migrations 16 to 18): every host runs
-- the same imagegen against one PostgreSQL database, which decides who
-- works on what (imagegen(8), SCALING OUT). Its tables go, and the column
-- images.worker_host with them. sql/pg/schema.sql is this version.

DROP TABLE dispatch_updates;
DROP TABLE dispatch_handed;
DROP TABLE dispatch_jobs;
DROP TABLE dispatch_reaper;
DROP TABLE dispatches;
ALTER TABLE images DROP COLUMN worker_host;

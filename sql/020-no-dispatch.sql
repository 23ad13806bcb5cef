-- imagegen schema, version 20: the state-host dispatch is gone.
--
-- Scaling out no longer goes through a state host that dispatched jobs
-- to worker hosts over signed HTTP (migrations 16 to 18): every host runs
-- the same imagegen against one PostgreSQL database, which decides who
-- works on what (imagegen(8), SCALING OUT). Its tables go; images keep
-- worker_host, which now names the host whose worker made each image.

DROP TABLE dispatch_updates;
DROP TABLE dispatch_handed;
DROP TABLE dispatch_jobs;
DROP TABLE dispatch_reaper;
DROP TABLE dispatches;

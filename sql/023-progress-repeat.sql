-- imagegen schema, version 23: nothing changes here. Its PostgreSQL
-- twin, sql/pg/023-progress-repeat.sql, teaches apply_progress() to
-- apply an update that repeats what is known by one read; on SQLite the
-- same step is store_progress.c's (a repeat writes the job's row at most
-- once a second), which needs no schema.
SELECT 1;

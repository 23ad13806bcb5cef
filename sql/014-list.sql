-- imagegen schema, version 14: the list of jobs, newest first.
--
-- GET /api/case-images pages through the jobs by (created_at, case_id),
-- newest first, all of them or those of one status; each page starts
-- where the last ended, so these indexes let it read only its own rows:
--   SELECT case_id, status FROM jobs
--    WHERE status = 'partial' ORDER BY created_at DESC, case_id DESC LIMIT 20;

CREATE INDEX jobs_by_created ON jobs (created_at, case_id);
CREATE INDEX jobs_by_status_created ON jobs (status, created_at, case_id);

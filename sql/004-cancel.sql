-- imagegen schema, version 4: cancelling a running job.

-- Set by POST /api/case-images/{caseId}/cancel; the job's worker sees it
-- within a moment, aborts its requests and ends the job. Cleared by a retry.
ALTER TABLE jobs ADD COLUMN cancel_requested_at INTEGER;

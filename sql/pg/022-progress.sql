-- imagegen schema for PostgreSQL, version 22: the twin of
-- sql/022-progress.sql (the webhook-ids found by their age), and a
-- progress update from a worker elsewhere applied by one function call.
-- imagegen initdb runs it, and sets schema_version.

CREATE INDEX webhook_seen_by_time ON webhook_seen (accepted_at);

-- POST /api/webhook/image-progress, applied in one call: one round trip,
-- the job's row locked only while the call runs, as a plain UPDATE locks
-- it. On SQLite the same steps are statements of store_progress.c, whose
-- comments say why each is as it is; a change to one is made to both.
--
-- p_images: {"id": {"kind", "url", "path"}, ...}, the update's images so
-- far; p_failed: ["id", ...]; p_webhook_id: NULL when updates are not
-- signed, else recorded, and ids accepted before p_seen_after forgotten.
-- The outcome, as store_apply_progress answers:
--   1 applied, news: the ids of the images it completed, as a JSON array
--     (NULL for none); 0 no such job; 2 a replayed webhook-id; 4
--     totalImages is not the job's; 3 the job's own worker holds it
--     (pending, or generating under a lease of another host's); 5
--     generating under a worker of p_host's, worker_pid: whether that
--     process lives is for the caller to tell (kill(2) on this host), and
--     to call again with p_dead_pid = worker_pid if it does not.
-- Nothing is written unless the outcome is 1. An operator may call it
-- in psql to apply an update by hand:
--   SELECT * FROM apply_progress('case-1', 'completed', 14,
--     floor(extract(epoch FROM now()) * 1000)::bigint,
--     '{"ev-1": {"kind": "evidence", "url": "https://..."}}', '[]',
--     NULL, 0, 'this-host', 0);
CREATE FUNCTION apply_progress(
  p_case TEXT, p_status TEXT, p_total BIGINT, p_now BIGINT,
  p_images JSONB, p_failed JSONB, p_webhook_id TEXT, p_seen_after BIGINT,
  p_host TEXT, p_dead_pid BIGINT,
  OUT outcome INT, OUT worker_pid BIGINT, OUT news TEXT)
LANGUAGE plpgsql
-- Each statement's plan made once per connection, whatever the arguments:
-- left to choose, the planner made a custom plan for the update's JSON at
-- every call, half of the call's time on a database of 4,000 jobs.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  j       RECORD;
  fresh   BOOLEAN := true;
  taken   BOOLEAN := false;
  failing BIGINT := 0;
  done    BIGINT;
  failed  BIGINT;
  final   BOOLEAN := p_status IN ('completed', 'partial', 'failed');
BEGIN
  IF p_webhook_id IS NOT NULL THEN
    DELETE FROM webhook_seen WHERE accepted_at < p_seen_after;
    INSERT INTO webhook_seen (id, accepted_at) VALUES (p_webhook_id, p_now)
    ON CONFLICT DO NOTHING;
    fresh := FOUND;
  END IF;
  -- The job's row is locked by the write every applied update makes,
  -- which takes only a job this update may change, and says whether the
  -- update brings news. A job it may not change is read again to say
  -- why; one changed in between is tried again.
  FOR attempt IN 1..3 LOOP
    IF fresh THEN
      UPDATE jobs SET updated_at = p_now
       WHERE case_id = p_case AND status <> 'pending' AND total_images = p_total
         AND NOT (status = 'generating' AND coalesce(jobs.worker_pid, 0) > 0 AND
                  CASE WHEN coalesce(host_id, '') IN ('', p_host)
                       THEN jobs.worker_pid <> p_dead_pid
                       ELSE coalesce(lease_until, 0) > p_now END)
      RETURNING status, jobs.worker_pid AS pid, started_at,
                EXISTS (SELECT 1 FROM images i
                         WHERE i.case_id = p_case AND i.status <> 'completed'
                           AND p_images ? i.item_id) AS news
           INTO j;
      taken := FOUND;
      EXIT WHEN taken;
    END IF;
    SELECT status, coalesce(jobs.worker_pid, 0) AS pid, total_images,
           coalesce(host_id, '') IN ('', p_host) AS local, coalesce(lease_until, 0) AS lease
      INTO j FROM jobs WHERE case_id = p_case;
    worker_pid := coalesce(j.pid, 0);
    outcome := CASE
      WHEN NOT FOUND THEN 0
      WHEN j.status = 'pending' THEN 3
      WHEN j.status = 'generating' AND j.pid > 0 AND j.local AND j.pid <> p_dead_pid THEN 5
      WHEN j.status = 'generating' AND j.pid > 0 AND NOT j.local AND j.lease > p_now THEN 3
      WHEN j.total_images <> p_total THEN 4
      WHEN NOT fresh THEN 2 END;
    EXIT WHEN outcome IS NOT NULL;
  END LOOP;
  IF NOT taken THEN
    IF fresh AND p_webhook_id IS NOT NULL THEN
      DELETE FROM webhook_seen WHERE id = p_webhook_id;
    END IF;
    outcome := coalesce(outcome, 3);
    RETURN;
  END IF;
  outcome := 1;
  worker_pid := coalesce(j.pid, 0);

  -- Updates repeat every image so far: only rows not yet completed are
  -- looked up in the update (one scan of the job's rows, no join), and
  -- written only when one of them is named in it (asked above, with the
  -- lock).
  IF j.news THEN
    WITH u AS (
      UPDATE images SET status = 'completed', url = p_images -> images.item_id ->> 'url',
             path = p_images -> images.item_id ->> 'path', last_error = NULL,
             finished_at = p_now
       WHERE case_id = p_case AND status <> 'completed' AND p_images ? images.item_id
         AND kind = p_images -> images.item_id ->> 'kind'
      RETURNING images.item_id)
    SELECT json_agg(u.item_id) INTO news FROM u;
  END IF;
  IF p_failed <> '[]' THEN
    UPDATE images SET status = 'failed',
           last_error = coalesce(last_error, 'reported failed by the worker'),
           finished_at = p_now
     WHERE case_id = p_case AND images.item_id IN (SELECT jsonb_array_elements_text(p_failed))
       AND status NOT IN ('completed', 'failed');
    GET DIAGNOSTICS failing = ROW_COUNT;
  END IF;
  -- Nothing new: the write above was all (the columns the version's
  -- trigger watches are left alone).
  IF news IS NULL AND failing = 0 AND j.started_at IS NOT NULL
     AND NOT (final AND j.status = 'generating') THEN
    RETURN;
  END IF;
  -- The counts are the rows', never the update's; a final status is the
  -- rows' too. Status only moves forward: pending < generating < final.
  SELECT count(*) FILTER (WHERE status = 'completed'),
         count(*) FILTER (WHERE status = 'failed')
    INTO done, failed FROM images WHERE case_id = p_case;
  IF final AND j.status = 'generating' THEN
    UPDATE jobs SET status = CASE WHEN done = total_images THEN 'completed'
                                  WHEN done = 0 THEN 'failed' ELSE 'partial' END,
           completed_images = done, failed_images = failed,
           started_at = coalesce(started_at, p_now), completed_at = p_now
     WHERE case_id = p_case;
  ELSE
    UPDATE jobs SET completed_images = done, failed_images = failed,
           started_at = coalesce(started_at, p_now)
     WHERE case_id = p_case;
  END IF;
END
$$;
COMMENT ON FUNCTION apply_progress IS
  'A worker elsewhere''s progress update, applied in one call (POST /api/webhook/image-progress)';

/*
 * store_worker.c: a worker's writes on the job it claimed. The claim
 * names the host and the process and moves the job's epoch on by one;
 * every later write names that epoch, so that a worker whose job was
 * taken (its lease ran out, another host resumed it) changes nothing and
 * learns so at its next write (STORE_FENCED). Each image's row, the job's
 * counters, the picture (media_store = database) and the progress update
 * that reports them commit in one transaction.
 */
#include <stdio.h>

#include "codec.h"
#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_media.h"
#include "store_outbox.h"
#include "store_worker.h"

/* The job still this claim's: one image statement's guard, $EPOCH its epoch. */
#define OWNED(epoch) " AND EXISTS (SELECT 1 FROM jobs WHERE case_id = $1 AND epoch = " epoch ")"

static const char CLAIM[] =
    "UPDATE jobs SET status = 'generating', host_id = $2, worker_pid = $3,"
    " epoch = epoch + 1, lease_until = CAST($4 AS BIGINT) + CAST($5 AS BIGINT),"
    " queued_at = NULL,"
    " started_at = coalesce(started_at, $4), heartbeat_at = $4, updated_at = $4"
    " WHERE case_id = $1 AND status = 'pending' RETURNING epoch";
static const char HEARTBEAT[] =
    "UPDATE jobs SET heartbeat_at = $3, lease_until = CAST($3 AS BIGINT) + CAST($4 AS BIGINT)"
    " WHERE case_id = $1 AND epoch = $2 AND status = 'generating'";
static const char IMAGE_START[] =
    "UPDATE images SET status = 'generating', attempts = attempts + 1,"
    " started_at = $3, provider = $4, model = $5 WHERE case_id = $1 AND item_id = $2"
    OWNED("$6");
static const char IMAGE_DONE[] =
    "UPDATE images SET status = 'completed', path = $3, url = $4, bytes = $5,"
    " last_error = NULL, finished_at = $6, api_ms = coalesce($7, api_ms)"
    " WHERE case_id = $1 AND item_id = $2";
/* An image a webhook report completed stays so: counts never go down. */
static const char IMAGE_FAIL[] =
    "UPDATE images SET status = 'failed', last_error = $3, finished_at = $4,"
    " api_ms = coalesce($5, api_ms) WHERE case_id = $1 AND item_id = $2"
    " AND status <> 'completed'";
static const char IMAGE_RETRY[] =
    "UPDATE images SET status = 'pending', last_error = $3"
    " WHERE case_id = $1 AND item_id = $2" OWNED("$4");
/*
 * Back to pending at once: a worker killed before it asks again must not
 * have the same attempt refunded twice by the next.
 */
static const char IMAGE_INTERRUPTED[] =
    "UPDATE images SET status = 'pending',"
    " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,"
    " interrupted = interrupted + 1"
    " WHERE case_id = $1 AND item_id = $2 AND status = 'generating'" OWNED("$3");
static const char USAGE[] =
    "UPDATE images SET prompt_tokens = $3, output_tokens = $4"
    " WHERE case_id = $1 AND item_id = $2" OWNED("$5");
/* The fence of an image's transaction: it takes the job's row, and fails if it moved. */
static const char COUNTERS[] =
    "UPDATE jobs SET"
    " completed_images = (SELECT count(*) FROM images"
    "   WHERE case_id = $1 AND status = 'completed'),"
    " failed_images = (SELECT count(*) FROM images"
    "   WHERE case_id = $1 AND status = 'failed'),"
    " updated_at = $2 WHERE case_id = $1 AND epoch = $3 AND status = 'generating'";
/* The status its worker counted: it wrote every image row, and the update that says so. */
static const char FINISH[] =
    "UPDATE jobs SET status = $3,"
    " last_error = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled by request'"
    "   ELSE (SELECT item_id || ': ' || last_error FROM images"
    "   WHERE case_id = $1 AND status = 'failed'"
    "   ORDER BY finished_at DESC, position LIMIT 1) END,"
    " completed_at = $2, updated_at = $2 WHERE case_id = $1 AND epoch = $4"
    " AND status = 'generating'";

/* One row changed: 0; none: the job is another's now; -1 on error. */
static int
fenced(int changed)
{
	return changed < 0 ? -1 : changed == 0 ? STORE_FENCED : 0;
}

/*
 * Returns 1 with c->epoch set when this process now holds the job, 0 when
 * another has it or it is done. The claim and its start update (the
 * outbox's row) commit together.
 */
int
store_claim(struct claim *c, const char *host, long pid, int64_t now, int64_t lease_ms,
    const char *update)
{
	struct sstmt *s = store_stmt(CLAIM);
	if (s == NULL || store_begin() != 0)
		return -1;
	sbind_text(s, 1, c->case_id);
	sbind_text(s, 2, host);
	sbind_int(s, 3, pid);
	sbind_int(s, 4, now);
	sbind_int(s, 5, lease_ms);
	enum sstep rc = store_next(s, "claim job");
	if (rc == SS_ROW)
		c->epoch = scol_int(s, 0);
	store_done(s);
	if (rc == SS_ERROR || (rc == SS_ROW &&
	    store_outbox_add(c->case_id, "start", update, now) < 0) || store_commit() != 0) {
		store_rollback();
		return -1;
	}
	return rc == SS_ROW;
}

/* The lease renewed: 0, STORE_FENCED once the job was taken, -1 on error. */
int
store_heartbeat(const struct claim *c, int64_t now, int64_t lease_ms)
{
	struct sstmt *s = store_stmt(HEARTBEAT);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, c->case_id);
	sbind_int(s, 2, c->epoch);
	sbind_int(s, 3, now);
	sbind_int(s, 4, lease_ms);
	return fenced(store_exec_changed(s, "heartbeat"));
}

/* Recorded before the paid call: a worker fenced out makes none. */
int
store_image_started(const struct claim *c, const char *item_id, const char *provider,
    const char *model, int64_t now)
{
	struct sstmt *s = store_stmt(IMAGE_START);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, c->case_id);
	sbind_text(s, 2, item_id);
	sbind_int(s, 3, now);
	sbind_text(s, 4, provider);
	sbind_text(s, 5, model);
	sbind_int(s, 6, c->epoch);
	return fenced(store_exec_changed(s, "image started"));
}

static int
update_counters(const struct claim *c, int64_t now)
{
	struct sstmt *s = store_stmt(COUNTERS);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, c->case_id);
	sbind_int(s, 2, now);
	sbind_int(s, 3, c->epoch);
	return fenced(store_exec_changed(s, "update counters"));
}

/*
 * An image row, the job's counters (the fence), the picture and the
 * progress update that reports them change in one transaction, so they
 * always agree; the writer rendered the update before it began.
 */
static int
image_txn(struct sstmt *s, const struct claim *c, const char *item_id,
    const struct media_blob *blob, int64_t now, const char *what, const char *update)
{
	int rc = store_exec_done(s, what);
	if (rc == 0 && blob != NULL && blob->jpeg != NULL)
		rc = store_media_put(c->case_id, item_id, blob->jpeg, blob->len, now);
	if (rc == 0)
		rc = update_counters(c, now);
	if (rc == 0 && store_outbox_add(c->case_id, "progress", update, now) < 0)
		rc = -1;
	if (rc == 0 && store_commit() != 0)
		rc = -1;
	if (rc != 0)
		store_rollback();
	return rc;
}

/* api_ms: the image API's answer time, or -1 when there was no call. */
int
store_image_completed(const struct claim *c, const char *item_id, const char *path,
    const char *url, long bytes, long api_ms, const struct media_blob *blob, int64_t now,
    const char *update)
{
	struct sstmt *s = store_stmt(IMAGE_DONE);
	if (s == NULL || store_begin() != 0)
		return -1;
	sbind_text(s, 1, c->case_id);
	sbind_text(s, 2, item_id);
	sbind_text(s, 3, path);
	sbind_text(s, 4, url);
	sbind_int(s, 5, bytes);
	sbind_int(s, 6, now);
	sbind_known(s, 7, api_ms);
	return image_txn(s, c, item_id, blob, now, "image completed", update);
}

int
store_image_failed(const struct claim *c, const char *item_id, const char *error,
    long api_ms, int64_t now, const char *update)
{
	struct sstmt *s = store_stmt(IMAGE_FAIL);
	if (s == NULL || store_begin() != 0)
		return -1;
	sbind_text(s, 1, c->case_id);
	sbind_text(s, 2, item_id);
	sbind_text(s, 3, error);
	sbind_int(s, 4, now);
	sbind_known(s, 5, api_ms);
	return image_txn(s, c, item_id, NULL, now, "image failed", update);
}

/* Back to pending with the reason, until the backoff is over. */
int
store_image_retry(const struct claim *c, const char *item_id, const char *error)
{
	struct sstmt *s = store_stmt(IMAGE_RETRY);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, c->case_id);
	sbind_text(s, 2, item_id);
	sbind_text(s, 3, error);
	sbind_int(s, 4, c->epoch);
	return fenced(store_exec_changed(s, "image retry"));
}

/*
 * An attempt a dead worker left 'generating' got no answer: it is taken
 * back from attempts, which retry_attempts limits, and counted apart.
 * Returns 1 when refunded, 0 when the image was not generating.
 */
int
store_image_interrupted(const struct claim *c, const char *item_id)
{
	struct sstmt *s = store_stmt(IMAGE_INTERRUPTED);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, c->case_id);
	sbind_text(s, 2, item_id);
	sbind_int(s, 3, c->epoch);
	return store_exec_changed(s, "image interrupted");
}

/* The provider's own count of tokens; -1 for one it did not give. */
int
store_image_usage(const struct claim *c, const char *item_id, long prompt_tokens,
    long output_tokens)
{
	struct sstmt *s = store_stmt(USAGE);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, c->case_id);
	sbind_text(s, 2, item_id);
	sbind_known(s, 3, prompt_tokens);
	sbind_known(s, 4, output_tokens);
	sbind_int(s, 5, c->epoch);
	return fenced(store_exec_changed(s, "image usage"));
}

/* The counters first: they fence a job still generating, which FINISH ends. */
int
store_finish(const struct claim *c, const char *status, int64_t now, const char *update)
{
	struct sstmt *s = store_stmt(FINISH);
	if (s == NULL || store_begin() != 0)
		return -1;
	int rc = update_counters(c, now);
	if (rc == 0) {
		sbind_text(s, 1, c->case_id);
		sbind_int(s, 2, now);
		sbind_text(s, 3, status);
		sbind_int(s, 4, c->epoch);
		rc = fenced(store_exec_changed(s, "finish"));
	}
	if (rc == 0 && store_outbox_add(c->case_id, "final", update, now) < 0)
		rc = -1;
	if (rc == 0 && store_commit() != 0)
		rc = -1;
	if (rc != 0) {
		if (rc == -1)
			log_error("store: case %s: cannot record the final status", c->case_id);
		store_rollback();
	}
	return rc;
}

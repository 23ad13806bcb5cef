/*
 * store_progress.c: a progress update from a worker elsewhere (POST
 * /api/webhook/image-progress), applied in one transaction on the store's
 * connection. Updates repeat what is known: only what is news is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "progress.h"
#include "sign.h"
#include "store.h"
#include "store_int.h"
#include "store_media.h"
#include "store_progress.h"

/* PostgreSQL: the job's row locked, as SQLite's BEGIN IMMEDIATE locks them all. */
#define OWNER_OF "SELECT status, worker_pid, total_images, coalesce(host_id, ''),"\
    " coalesce(lease_until, 0) FROM jobs WHERE case_id = $1"
static const char OWNER[] = OWNER_OF;
static const char OWNER_LOCKED[] = OWNER_OF " FOR UPDATE";
static const char ROWS[] = "SELECT item_id, kind, status FROM images WHERE case_id = $1";
static const char IMAGE[] =
    "UPDATE images SET status = 'completed', url = $4, path = $6, last_error = NULL,"
    " finished_at = $5 WHERE case_id = $1 AND item_id = $2 AND kind = $3"
    " AND status <> 'completed'";
static const char FAIL[] =
    "UPDATE images SET status = 'failed',"
    " last_error = coalesce(last_error, 'reported failed by the worker'),"
    " finished_at = $3 WHERE case_id = $1 AND item_id = $2"
    " AND status NOT IN ('completed', 'failed')";
/*
 * The counts are the rows', never the update's; a final status is the
 * rows' too, as a local worker's would be (store_jobs.c, FINISH).
 */
/* $1 the case, $2 and $3 the counts, $4 now; $5 the status, $6 1 when it is final. */
static const char JOB[] =
    "UPDATE jobs SET status = CASE WHEN $6 = 0 THEN $5"
    "   WHEN $2 = total_images THEN 'completed' WHEN $2 = 0 THEN 'failed'"
    "   ELSE 'partial' END,"
    " completed_images = $2, failed_images = $3,"
    " started_at = coalesce(started_at, $4),"
    " completed_at = CASE WHEN $6 = 1 THEN $4 ELSE completed_at END,"
    " updated_at = $4 WHERE case_id = $1";
/* The same without the status: writing it, even unchanged, costs a third more. */
static const char COUNTS[] =
    "UPDATE jobs SET completed_images = $2, failed_images = $3,"
    " started_at = coalesce(started_at, $4),"
    " updated_at = $4 WHERE case_id = $1";
static const char SEEN_PRUNE[] = "DELETE FROM webhook_seen WHERE accepted_at < $1";
static const char SEEN_ADD[] =
    "INSERT INTO webhook_seen (id, accepted_at) VALUES ($1, $2) ON CONFLICT DO NOTHING";

/* A job's image rows as a progress update needs them: which are done already. */
struct row_state {
	char id[128];
	int kind;		/* 0 evidence, 1 location */
	char status;		/* 'c'ompleted, 'f'ailed, or '-' for pending or generating */
};

struct rows {
	struct row_state *r;
	size_t n;
	long completed, failed;
};

/* The job's image rows asked for: sent ahead, on PostgreSQL, with the job's row. */
static struct sstmt *
rows_send(const char *case_id)
{
	struct sstmt *s = store_stmt(ROWS);
	if (s == NULL)
		return NULL;
	sbind_text(s, 1, case_id);
	return store_send(s, "a job's images") == 0 ? s : NULL;
}

static int
load_rows(struct sstmt *s, struct rows *rows)
{
	size_t cap = 0;
	enum sstep rc;
	while ((rc = store_next(s, "a job's images")) == SS_ROW) {
		if (rows->n == cap) {
			struct row_state *r = realloc(rows->r, (cap = cap ? 2 * cap : 16) *
			    sizeof(*r));
			if (r == NULL)
				break;
			rows->r = r;
		}
		struct row_state *r = &rows->r[rows->n++];
		const char *st = scol_text(s, 2);
		scol_copy(s, 0, r->id, sizeof(r->id));
		r->kind = strcmp(scol_text(s, 1), "location") == 0;
		r->status = strcmp(st, "completed") == 0 ? 'c' : strcmp(st, "failed") == 0 ? 'f'
		    : '-';
		rows->completed += r->status == 'c';
		rows->failed += r->status == 'f';
	}
	store_done(s);
	return rc == SS_DONE ? 0 : -1;
}

static struct row_state *
find_row(struct rows *rows, const char *id, int kind)
{
	for (size_t i = 0; i < rows->n; i++)
		if ((kind < 0 || rows->r[i].kind == kind) && strcmp(rows->r[i].id, id) == 0)
			return &rows->r[i];
	return NULL;
}

/* Marks one image completed, keeping the counts; only a row not completed is written. */
static int
complete_row(struct sstmt *s, const struct progress *p, int k, size_t i, struct rows *rows,
    int64_t now)
{
	static const char *const kinds[2] = { "evidence", "location" };
	struct row_state *r = find_row(rows, p->images[k][i].id, k);
	if (r == NULL || r->status == 'c')
		return 0;
	sbind_text(s, 1, p->case_id);
	sbind_text(s, 2, p->images[k][i].id);
	sbind_text(s, 3, kinds[k]);
	sbind_text(s, 4, p->images[k][i].stored ? p->images[k][i].stored : p->images[k][i].url);
	sbind_int(s, 5, now);
	sbind_text(s, 6, p->images[k][i].path);
	const struct progress_image *im = &p->images[k][i];
	if (store_exec_done(s, "progress image") != 0 || (im->jpeg != NULL &&
	    store_media_put(p->case_id, im->id, im->jpeg, im->jpeg_len, now) != 0))
		return -1;
	rows->failed -= r->status == 'f';
	rows->completed++;
	r->status = 'c';
	return 0;
}

static int
fail_row(struct sstmt *f, const struct progress *p, size_t i, struct rows *rows, int64_t now)
{
	struct row_state *r = find_row(rows, p->failed_ids[i], -1);
	if (r == NULL || r->status != '-')
		return 0;
	sbind_text(f, 1, p->case_id);
	sbind_text(f, 2, p->failed_ids[i]);
	sbind_int(f, 3, now);
	if (store_exec_done(f, "progress failed image") != 0)
		return -1;
	rows->failed++;
	r->status = 'f';
	return 0;
}

/*
 * Updates carry every image so far: one SELECT of the rows tells which
 * are news, and only those are written; the job's counts come from the
 * same rows, with no count(*) over the images.
 */
static int
apply_images(const struct progress *p, int64_t now, struct sstmt *read, struct rows *rows)
{
	struct sstmt *s = store_stmt(IMAGE), *f = store_stmt(FAIL);
	if (s == NULL || f == NULL || load_rows(read, rows) != 0)
		return -1;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < p->n_images[k]; i++)
			if (complete_row(s, p, k, i, rows, now) != 0)
				return -1;
	for (size_t i = 0; i < p->n_failed; i++)
		if (fail_row(f, p, i, rows, now) != 0)
			return -1;
	return 0;
}

/* Status only moves forward: a late or repeated update changes nothing it should not. */
static int
apply_job(const struct progress *p, const char *old_status, const struct rows *rows,
    int64_t now)
{
	int forward = progress_status_rank(p->status) > progress_status_rank(old_status);
	struct sstmt *s = store_stmt(forward ? JOB : COUNTS);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, p->case_id);
	sbind_int(s, 2, rows->completed);
	sbind_int(s, 3, rows->failed);
	sbind_int(s, 4, now);
	if (forward) {
		sbind_text(s, 5, p->status);
		sbind_int(s, 6, progress_status_rank(p->status) == 2);
	}
	return store_exec_done(s, "progress job");
}

/* A verified message's webhook-id, to be recorded: sent ahead. NULL on error. */
static struct sstmt *
seen_send(const char *webhook_id, int64_t now)
{
	struct sstmt *prune = store_stmt(SEEN_PRUNE), *add = store_stmt(SEEN_ADD);
	if (prune == NULL || add == NULL)
		return NULL;
	sbind_int(prune, 1, now - SIGN_REPLAY_MS);
	if (store_exec_done(prune, "prune webhook ids") != 0)
		return NULL;
	sbind_text(add, 1, webhook_id);
	sbind_int(add, 2, now);
	return store_send(add, "add webhook id") == 0 ? add : NULL;
}

/*
 * Records a verified message's webhook-id (sign.c): 1 if it is new, 0 for
 * a replay, -1 on error. Ids older than SIGN_REPLAY_MS go: their messages
 * fail the timestamp check anyway.
 */
int
store_webhook_seen(const char *webhook_id, int64_t now)
{
	struct sstmt *add = seen_send(webhook_id, now);
	return add != NULL ? store_exec_changed(add, "add webhook id") : -1;
}

static struct sstmt *
owner_send(const char *case_id)
{
	struct sstmt *s = store_stmt(store_sql(OWNER, OWNER_LOCKED));
	if (s == NULL)
		return NULL;
	sbind_text(s, 1, case_id);
	return store_send(s, "read the job") == 0 ? s : NULL;
}

static int
owner_read(struct sstmt *s, const char *case_id, const char *my_host, store_holds_fn *holds,
    int64_t now, char status[12], long *total, long *pid)
{
	enum sstep rc = store_next(s, "read the job");
	int owner = rc == SS_DONE ? 0 : -1;
	if (rc == SS_ROW) {
		scol_copy(s, 0, status, 12);
		*pid = scol_int(s, 1);
		*total = scol_int(s, 2);
		owner = strcmp(status, "pending") == 0 ||
		    (strcmp(status, "generating") == 0 && *pid > 0 && holds(my_host,
		    scol_text(s, 3), *pid, case_id, scol_int(s, 4), now)) ? 3 : 1;
	}
	store_done(s);
	return owner;
}

/*
 * Whose the job is: 1 the update's to apply, 0 no such job, 3 its own
 * local worker's (pending, about to be claimed, or generating by a live
 * worker: that worker wins, imagegen(8) says why), -1 on error. status
 * and *total: the job's.
 */
int
store_progress_owner(const char *case_id, const char *my_host, store_holds_fn *holds,
    int64_t now, char status[12], long *total, long *pid)
{
	struct sstmt *s = owner_send(case_id);
	return s != NULL ? owner_read(s, case_id, my_host, holds, now, status, total, pid) : -1;
}

/*
 * The job's row, the webhook-id and the image rows, asked for together:
 * 1 to go on, or what store_apply_progress returns without writing.
 */
static int
apply_start(const struct progress *p, const char *webhook_id, int64_t now,
    const char *my_host, store_holds_fn *holds, char status[12], struct sstmt **rows)
{
	long total = 0, pid;
	struct sstmt *own = owner_send(p->case_id);
	struct sstmt *add = own != NULL && webhook_id != NULL ? seen_send(webhook_id, now) : NULL;
	*rows = own != NULL && (add != NULL || webhook_id == NULL) ? rows_send(p->case_id) : NULL;
	if (*rows == NULL)
		return -1;
	int found = owner_read(own, p->case_id, my_host, holds, now, status, &total, &pid);
	if (found != 1)
		return found;
	if (p->total != total)
		return 4;
	int fresh = add != NULL ? store_exec_changed(add, "add webhook id") : 1;
	return fresh == 1 ? 1 : fresh == 0 ? 2 : -1;
}

/*
 * Returns 1 when applied, 0 for an unknown case, 2 for a replayed
 * webhook_id (NULL when updates are not signed), 3 for a job its own
 * local worker holds, 4 when totalImages is not the job's, -1 on error.
 * On PostgreSQL its statements go in two round trips (store_begin_piped):
 * the reads, then the writes with the commit.
 */
int
store_apply_progress(const struct progress *p, const char *webhook_id, int64_t now,
    const char *my_host, store_holds_fn *holds)
{
	char status[12];
	struct sstmt *read;
	struct rows rows = { 0 };
	if (store_begin_piped() != 0)
		return -1;
	int rc = apply_start(p, webhook_id, now, my_host, holds, status, &read);
	if (rc == 1 && (apply_images(p, now, read, &rows) != 0 ||
	    apply_job(p, status, &rows, now) != 0 || store_commit() != 0))
		rc = -1;
	if (rc != 1)
		store_rollback();
	if (rc < 0)
		log_error("store: case %s: cannot apply the progress update", p->case_id);
	free(rows.r);
	return rc;
}

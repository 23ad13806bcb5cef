/*
 * store_progress.c: a progress update from a worker elsewhere (POST
 * /api/webhook/image-progress), applied in one transaction on the store's
 * connection: on SQLite by the statements below, on PostgreSQL by one call
 * of apply_progress() (sql/pg/023-progress-repeat.sql), which takes the
 * same steps. Updates repeat what is known: only what is news is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "progress.h"
#include "sign.h"
#include "store.h"
#include "store_int.h"
#include "store_media.h"
#include "store_progress.h"

static const char OWNER[] = "SELECT status, worker_pid, total_images,"
    " coalesce(host_id, ''), coalesce(lease_until, 0) FROM jobs WHERE case_id = $1";
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
/*
 * The same without the status: writing it, even unchanged, costs a third
 * more. A repeat (counts as they were, the job started and heard from
 * under a second ago) writes nothing: updated_at is when the job last
 * heard, to the second for repeats (workers are judged by heartbeat_at
 * and leases), and a transaction that wrote no page commits without a
 * write. apply_progress() does the same on PostgreSQL.
 */
static const char COUNTS[] =
    "UPDATE jobs SET completed_images = $2, failed_images = $3,"
    " started_at = coalesce(started_at, $4),"
    " updated_at = $4 WHERE case_id = $1 AND NOT (completed_images = $2"
    " AND failed_images = $3 AND started_at IS NOT NULL"
    " AND updated_at > $4 - 1000)";
static const char SEEN_PRUNE[] = "DELETE FROM webhook_seen WHERE accepted_at < $1";
static const char SEEN_ADD[] =
    "INSERT INTO webhook_seen (id, accepted_at) VALUES ($1, $2) ON CONFLICT DO NOTHING";

/* A job's image rows as a progress update needs them: which are done already. */
struct row_state {
	char id[128];
	int kind;		/* 0 evidence, 1 location */
	char status;		/* 'c'ompleted, 'f'ailed, or '-' for pending or generating */
};

static const char *const kinds[2] = { "evidence", "location" };	/* images[0], images[1] */

struct rows {
	struct row_state *r;
	size_t n;
	long completed, failed;
};

static int
load_rows(const char *case_id, struct rows *rows)
{
	struct sstmt *s = store_stmt(ROWS);
	size_t cap = 0;
	enum sstep rc;
	if (s == NULL)
		return -1;
	sbind_text(s, 1, case_id);
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
apply_images(const struct progress *p, int64_t now, struct rows *rows)
{
	struct sstmt *s = store_stmt(IMAGE), *f = store_stmt(FAIL);
	if (s == NULL || f == NULL || load_rows(p->case_id, rows) != 0)
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

/*
 * Records a verified message's webhook-id (sign.c): 1 if it is new, 0 for
 * a replay, -1 on error. Ids older than SIGN_REPLAY_MS go: their messages
 * fail the timestamp check anyway.
 */
static int
seen_add(const char *webhook_id, int64_t now)
{
	struct sstmt *prune = store_stmt(SEEN_PRUNE), *add = store_stmt(SEEN_ADD);
	if (prune == NULL || add == NULL)
		return -1;
	sbind_int(prune, 1, now - SIGN_REPLAY_MS);
	if (store_exec_done(prune, "prune webhook ids") != 0)
		return -1;
	sbind_text(add, 1, webhook_id);
	sbind_int(add, 2, now);
	return store_exec_changed(add, "add webhook id");
}

static int
owner_read(struct sstmt *s, const char *case_id, const char *my_host, store_holds_fn *holds,
    int64_t now, char status[12], long *total, long *pid)
{
	sbind_text(s, 1, case_id);
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
	struct sstmt *s = store_stmt(OWNER);
	return s != NULL ? owner_read(s, case_id, my_host, holds, now, status, total, pid) : -1;
}

/* SQLite: 1 to go on, or what store_apply_progress returns without writing. */
static int
apply_start(const struct progress *p, const char *webhook_id, int64_t now,
    const char *my_host, store_holds_fn *holds, char status[12])
{
	long total = 0, pid;
	int found = store_progress_owner(p->case_id, my_host, holds, now, status, &total, &pid);
	if (found != 1)
		return found;
	if (p->total != total)
		return 4;
	int fresh = webhook_id != NULL ? seen_add(webhook_id, now) : 1;
	return fresh == 1 ? 1 : fresh == 0 ? 2 : -1;
}

/*
 * PostgreSQL: the update in one call of apply_progress()
 * (sql/pg/023-progress-repeat.sql), the same steps as above in one round
 * trip, so that the job's row is locked for no longer than a plain UPDATE
 * locks it, and a repeat does not lock it at all.
 */
static const char APPLY[] = "SELECT outcome, worker_pid, news FROM apply_progress("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/* apply_progress()'s text arguments, the same at each call for one update. */
struct pg_args {
	char *images, *failed;	/* JSON; NULL when they could not be made */
	const char *webhook_id, *host;
};

/*
 * The update's images, keyed by id (of an id sent twice, PostgreSQL keeps
 * the last), and its failed ids, as apply_progress() takes them; NULL on
 * error.
 */
static void
pg_lists(const struct progress *p, struct pg_args *args)
{
	cJSON *a = cJSON_CreateObject(), *f = cJSON_CreateArray();
	for (int k = 0; a != NULL && k < 2; k++)
		for (size_t i = 0; i < p->n_images[k]; i++) {
			const struct progress_image *im = &p->images[k][i];
			cJSON *o = cJSON_AddObjectToObject(a, im->id);
			if (o == NULL || !cJSON_AddStringToObject(o, "kind", kinds[k]) ||
			    !cJSON_AddStringToObject(o, "url", im->stored ? im->stored : im->url) ||
			    (im->path != NULL && !cJSON_AddStringToObject(o, "path", im->path)))
				goto fail;
		}
	for (size_t i = 0; f != NULL && i < p->n_failed; i++)
		if (!cJSON_AddItemToArray(f, cJSON_CreateString(p->failed_ids[i])))
			goto fail;
	args->images = a != NULL ? cJSON_PrintUnformatted(a) : NULL;
	args->failed = f != NULL ? cJSON_PrintUnformatted(f) : NULL;
fail:
	cJSON_Delete(a);
	cJSON_Delete(f);
}

/* An image of the update whose picture came inline, by its id; NULL for none. */
static const struct progress_image *
inline_image(const struct progress *p, const char *id)
{
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < p->n_images[k]; i++)
			if (p->images[k][i].jpeg != NULL && strcmp(p->images[k][i].id, id) == 0)
				return &p->images[k][i];
	return NULL;
}

/* Each picture that came inline with an image the call completed (news, a JSON array). */
static int
pg_media(const struct progress *p, const char *news, int64_t now)
{
	cJSON *ids = cJSON_Parse(news), *id;
	int rc = ids != NULL ? 0 : -1;
	if (ids == NULL)
		log_error("store: case %s: apply_progress() answered no JSON", p->case_id);
	cJSON_ArrayForEach(id, ids) {
		const struct progress_image *im = cJSON_IsString(id) ?
		    inline_image(p, id->valuestring) : NULL;
		if (im != NULL && store_media_put(p->case_id, im->id, im->jpeg, im->jpeg_len,
		    now) != 0) {
			rc = -1;
			break;
		}
	}
	cJSON_Delete(ids);
	return rc;
}

/* One call: its outcome, with *pid, the worker to judge for outcome 5. */
static int
pg_call(const struct progress *p, const struct pg_args *a, int64_t now, long dead_pid,
    long *pid, int pictures)
{
	struct sstmt *s = store_stmt(APPLY);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, p->case_id);
	sbind_text(s, 2, p->status);
	sbind_int(s, 3, p->total);
	sbind_int(s, 4, now);
	sbind_text(s, 5, a->images);
	sbind_text(s, 6, a->failed);
	sbind_text(s, 7, a->webhook_id);
	sbind_int(s, 8, now - SIGN_REPLAY_MS);
	sbind_text(s, 9, a->host);
	sbind_int(s, 10, dead_pid);
	enum sstep rc = store_next(s, "apply the progress update");
	int outcome = rc == SS_ROW ? (int)scol_int(s, 0) : -1;
	*pid = rc == SS_ROW ? scol_int(s, 1) : 0;
	char *news = outcome == 1 && pictures ? scol_strdup(s, 2) : NULL;
	store_done(s);
	if (news != NULL && pg_media(p, news, now) != 0)
		outcome = -1;
	free(news);
	return outcome;
}

/*
 * A job generating under a worker of this host's is that worker's while
 * it lives; once it is known dead, the call is made again naming it.
 */
static int
pg_judged(const struct progress *p, const struct pg_args *a, int64_t now,
    store_holds_fn *holds, int pictures)
{
	long pid = 0, dead = 0;
	for (int tries = 0; tries < 3; tries++) {
		int rc = pg_call(p, a, now, dead, &pid, pictures);
		if (rc != 5)
			return rc;
		/* The worker is this host's: judged as one, host_id ours. */
		if (holds(a->host, a->host, pid, p->case_id, 0, now))
			return 3;
		dead = pid;
	}
	return 3;
}

static int
has_inline(const struct progress *p)
{
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < p->n_images[k]; i++)
			if (p->images[k][i].jpeg != NULL)
				return 1;
	return 0;
}

/* Pictures kept in the database go in one transaction with the call that completes them. */
static int
apply_pg(const struct progress *p, const char *webhook_id, int64_t now, const char *my_host,
    store_holds_fn *holds)
{
	struct pg_args a = { NULL, NULL, webhook_id, my_host };
	pg_lists(p, &a);
	int rc = -1, txn = has_inline(p);
	if (a.images != NULL && a.failed != NULL && (!txn || store_begin() == 0)) {
		rc = pg_judged(p, &a, now, holds, txn);
		if (txn && rc == 1 && store_commit() != 0)
			rc = -1;
		if (txn && rc != 1)
			store_rollback();
	}
	cJSON_free(a.images);
	cJSON_free(a.failed);
	return rc;
}

/*
 * Returns 1 when applied, 0 for an unknown case, 2 for a replayed
 * webhook_id (NULL when updates are not signed), 3 for a job its own
 * local worker holds, 4 when totalImages is not the job's, -1 on error.
 */
int
store_apply_progress(const struct progress *p, const char *webhook_id, int64_t now,
    const char *my_host, store_holds_fn *holds)
{
	if (store_is_pg()) {
		int rc = apply_pg(p, webhook_id, now, my_host, holds);
		if (rc < 0)
			log_error("store: case %s: cannot apply the progress update", p->case_id);
		return rc;
	}
	char status[12];
	struct rows rows = { 0 };
	if (store_begin() != 0)
		return -1;
	int rc = apply_start(p, webhook_id, now, my_host, holds, status);
	if (rc == 1 && (apply_images(p, now, &rows) != 0 ||
	    apply_job(p, status, &rows, now) != 0 || store_commit() != 0))
		rc = -1;
	if (rc != 1)
		store_rollback();
	if (rc < 0)
		log_error("store: case %s: cannot apply the progress update", p->case_id);
	free(rows.r);
	return rc;
}

/*
 * store_progress.c: a progress update from a worker elsewhere (POST
 * /api/webhook/image-progress), applied in one transaction on the store's
 * connection. Updates repeat what is known: only what is news is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "progress.h"
#include "sign.h"
#include "store.h"
#include "store_progress.h"

enum query {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_OWNER, Q_ROWS, Q_IMAGE, Q_FAIL, Q_JOB, Q_COUNTS, Q_SEEN_PRUNE, Q_SEEN_ADD,
	Q_COUNT
};

static const char *const sql[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	/* The 4th column: NULL for a job not dispatched, else whether ?2 is an old dispatch. */
	[Q_OWNER] = "SELECT status, worker_pid, total_images,"
	    " (SELECT dispatch_id IS NOT ?2 FROM dispatches WHERE case_id = ?1)"
	    " FROM jobs WHERE case_id = ?1",
	[Q_ROWS] = "SELECT item_id, kind, status FROM images WHERE case_id = ?1",
	[Q_IMAGE] =
	    "UPDATE images SET status = 'completed', url = ?4, path = ?6, last_error = NULL,"
	    " finished_at = ?5 WHERE case_id = ?1 AND item_id = ?2 AND kind = ?3"
	    " AND status <> 'completed'",
	[Q_FAIL] =
	    "UPDATE images SET status = 'failed',"
	    " last_error = coalesce(last_error, 'reported failed by the worker'),"
	    " finished_at = ?3 WHERE case_id = ?1 AND item_id = ?2"
	    " AND status NOT IN ('completed', 'failed')",
	/*
	 * The counts are the rows', never the update's; a final status is the
	 * rows' too, as a local worker's would be (store.c, S_FINISH).
	 */
	[Q_JOB] =
	    "UPDATE jobs SET status = CASE WHEN NOT ?5 THEN ?2"
	    "   WHEN ?6 = total_images THEN 'completed' WHEN ?6 = 0 THEN 'failed'"
	    "   ELSE 'partial' END,"
	    " completed_images = ?6, failed_images = ?7,"
	    " started_at = coalesce(started_at, ?4),"
	    " completed_at = CASE WHEN ?5 THEN ?4 ELSE completed_at END,"
	    " updated_at = ?4 WHERE case_id = ?1",
	/* The same without the status: writing it, even unchanged, costs a third more. */
	[Q_COUNTS] =
	    "UPDATE jobs SET completed_images = ?6, failed_images = ?7,"
	    " started_at = coalesce(started_at, ?4),"
	    " updated_at = ?4 WHERE case_id = ?1",
	[Q_SEEN_PRUNE] = "DELETE FROM webhook_seen WHERE accepted_at < ?1",
	[Q_SEEN_ADD] =
	    "INSERT INTO webhook_seen (id, accepted_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
};

static sqlite3_stmt *stmts[Q_COUNT];

static sqlite3_stmt *
query(enum query id)
{
	return store_statement(&stmts[id], sql[id], sql[id]);
}

static int
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

static int
exec(enum query id)
{
	sqlite3_stmt *s = query(id);
	return s == NULL ? -1 : store_step(s, sql[id]);
}

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

static int
load_rows(const char *case_id, struct rows *rows)
{
	sqlite3_stmt *s = query(Q_ROWS);
	size_t cap = 0;
	int rc;
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (rows->n == cap) {
			struct row_state *r = realloc(rows->r, (cap = cap ? 2 * cap : 16) *
			    sizeof(*r));
			if (r == NULL)
				break;
			rows->r = r;
		}
		struct row_state *r = &rows->r[rows->n++];
		const char *st = (const char *)sqlite3_column_text(s, 2);
		snprintf(r->id, sizeof(r->id), "%s", sqlite3_column_text(s, 0));
		r->kind = strcmp((const char *)sqlite3_column_text(s, 1), "location") == 0;
		r->status = strcmp(st, "completed") == 0 ? 'c' : strcmp(st, "failed") == 0 ? 'f'
		    : '-';
		rows->completed += r->status == 'c';
		rows->failed += r->status == 'f';
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
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
complete_row(sqlite3_stmt *s, const struct progress *p, int k, size_t i, struct rows *rows,
    int64_t now)
{
	static const char *const kinds[2] = { "evidence", "location" };
	struct row_state *r = find_row(rows, p->images[k][i].id, k);
	if (r == NULL || r->status == 'c')
		return 0;
	bind_text(s, 1, p->case_id);
	bind_text(s, 2, p->images[k][i].id);
	bind_text(s, 3, kinds[k]);
	bind_text(s, 4, p->images[k][i].stored ? p->images[k][i].stored : p->images[k][i].url);
	sqlite3_bind_int64(s, 5, now);
	bind_text(s, 6, p->images[k][i].path);
	if (store_step(s, "progress image") != 0)
		return -1;
	rows->failed -= r->status == 'f';
	rows->completed++;
	r->status = 'c';
	return 0;
}

static int
fail_row(sqlite3_stmt *f, const struct progress *p, size_t i, struct rows *rows, int64_t now)
{
	struct row_state *r = find_row(rows, p->failed_ids[i], -1);
	if (r == NULL || r->status != '-')
		return 0;
	bind_text(f, 1, p->case_id);
	bind_text(f, 2, p->failed_ids[i]);
	sqlite3_bind_int64(f, 3, now);
	if (store_step(f, "progress failed image") != 0)
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
	sqlite3_stmt *s = query(Q_IMAGE), *f = query(Q_FAIL);
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
	sqlite3_stmt *s = query(forward ? Q_JOB : Q_COUNTS);
	if (s == NULL)
		return -1;
	bind_text(s, 1, p->case_id);
	if (forward)
		bind_text(s, 2, p->status);
	sqlite3_bind_int64(s, 4, now);
	if (forward)
		sqlite3_bind_int(s, 5, progress_status_rank(p->status) == 2);
	sqlite3_bind_int64(s, 6, rows->completed);
	sqlite3_bind_int64(s, 7, rows->failed);
	return store_step(s, "progress job");
}

/*
 * Records a verified message's webhook-id (sign.c): 1 if it is new, 0 for
 * a replay, -1 on error. Ids older than SIGN_REPLAY_MS go: their messages
 * fail the timestamp check anyway.
 */
int
store_webhook_seen(const char *webhook_id, int64_t now)
{
	sqlite3_stmt *prune = query(Q_SEEN_PRUNE), *add = query(Q_SEEN_ADD);
	if (prune == NULL || add == NULL)
		return -1;
	sqlite3_bind_int64(prune, 1, now - SIGN_REPLAY_MS);
	bind_text(add, 1, webhook_id);
	sqlite3_bind_int64(add, 2, now);
	if (store_step(prune, "prune webhook ids") != 0 || store_step(add, "add webhook id") != 0)
		return -1;
	return sqlite3_changes(store_handle()) == 1;
}

/*
 * Whose the job is: 1 the update's to apply, 0 no such job, 3 its own
 * local worker's (pending, about to be claimed, or generating by a live
 * worker: that worker wins, imagegen(8) says why), -1 on error. status
 * and *total: the job's. 4: a dispatched job (state host) and dispatch_id
 * not its current dispatch: fenced.
 */
int
store_progress_owner(const char *case_id, const char *dispatch_id,
    int (*alive)(long pid, const char *case_id), char status[12], long *total, long *pid)
{
	sqlite3_stmt *s = query(Q_OWNER);
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	bind_text(s, 2, dispatch_id);
	int rc = sqlite3_step(s), owner = rc == SQLITE_DONE ? 0 : -1;
	if (rc == SQLITE_ROW) {
		snprintf(status, 12, "%s", sqlite3_column_text(s, 0));
		*pid = sqlite3_column_int64(s, 1);
		*total = sqlite3_column_int64(s, 2);
		owner = strcmp(status, "pending") == 0 ||
		    (strcmp(status, "generating") == 0 && *pid > 0 && alive(*pid, case_id)) ? 3 : 1;
		/* A dispatched job is its worker host's; an old dispatch's update is fenced. */
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			owner = sqlite3_column_int(s, 3) ? 4 : 1;
	} else if (rc != SQLITE_DONE) {
		log_error("store: case %s: read the job: %s", case_id,
		    sqlite3_errmsg(store_handle()));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return owner;
}

/*
 * Returns 1 when applied, 0 for an unknown case, 2 for a replayed
 * webhook_id (NULL when updates are not signed), 3 for a job its own
 * local worker holds, 4 for an old dispatch's update, -1 on error.
 */
int
store_apply_progress(const struct progress *p, const char *webhook_id, int64_t now,
    int (*alive)(long pid, const char *case_id))
{
	char status[12];
	long total, pid;
	if (exec(Q_BEGIN) != 0)
		return -1;
	int found = store_progress_owner(p->case_id, p->dispatch_id, alive, status, &total, &pid);
	if (found == 0 || found == 3 || found == 4) {
		(void)exec(Q_ROLLBACK);
		return found;
	}
	int fresh = webhook_id == NULL ? 1 : found < 0 ? -1 : store_webhook_seen(webhook_id, now);
	if (fresh == 0) {
		(void)exec(Q_ROLLBACK);
		return 2;
	}
	if (fresh < 0)
		found = -1;
	struct rows rows = { 0 };
	if (found < 0 || apply_images(p, now, &rows) != 0 ||
	    apply_job(p, status, &rows, now) != 0 || exec(Q_COMMIT) != 0) {
		log_error("store: case %s: apply progress: %s", p->case_id, sqlite3_errmsg(store_handle()));
		(void)exec(Q_ROLLBACK);
		free(rows.r);
		return -1;
	}
	free(rows.r);
	return 1;
}

/*
 * store_queue.c: the count queue.c makes before it starts a worker, and
 * the mark it leaves on a job it starts none for (queued_at, migration 7).
 * The reaper and every worker that ends start queued jobs, oldest first.
 */
#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_queue.h"

enum query { Q_AT_WORK, Q_GENERATING, Q_QUEUE, Q_TAKE, Q_COUNT };

static const char *const sql[Q_COUNT] = {
	/* A job whose worker died still counts here: queue.c looks closer at the cap. */
	[Q_AT_WORK] =
	    "SELECT count(*) FROM jobs WHERE status IN ('pending', 'generating')"
	    " AND queued_at IS NULL AND case_id <> ?1",
	[Q_GENERATING] =
	    "SELECT case_id, worker_pid FROM jobs WHERE status = 'generating'"
	    " AND case_id <> ?1",
	[Q_QUEUE] =
	    "UPDATE jobs SET queued_at = ?2 WHERE case_id = ?1 AND status = 'pending'"
	    " AND worker_pid IS NULL",
	/* It counts as at work from here: its worker is starting. */
	[Q_TAKE] =
	    "UPDATE jobs SET queued_at = NULL, updated_at = ?2 WHERE case_id = ?1"
	    " AND status = 'pending' AND worker_pid IS NULL AND queued_at IS NOT NULL",
};

static sqlite3_stmt *stmts[Q_COUNT];

/* Jobs with a worker at work or starting, but for except_case's own. */
int
store_workers_at_work(const char *except_case, long *n)
{
	sqlite3_stmt *s = store_statement(&stmts[Q_AT_WORK], sql[Q_AT_WORK], "count workers");
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, except_case, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	*n = rc == SQLITE_ROW ? (long)sqlite3_column_int64(s, 0) : 0;
	if (rc != SQLITE_ROW)
		log_error("store: case %s: count workers: %s", except_case,
		    sqlite3_errmsg(store_handle()));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Calls fn with each generating job's case and worker, but for
 * except_case's own; fn returning nonzero stops the walk.
 */
int
store_each_generating(const char *except_case, int (*fn)(const char *case_id, long pid,
    void *), void *arg)
{
	sqlite3_stmt *s = store_statement(&stmts[Q_GENERATING], sql[Q_GENERATING],
	    "list generating jobs");
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, except_case, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW &&
	    !fn((const char *)sqlite3_column_text(s, 0), (long)sqlite3_column_int64(s, 1), arg))
		;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		log_error("store: case %s: list generating jobs: %s", except_case,
		    sqlite3_errmsg(store_handle()));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* 1 when the one row changed, 0 when none did, -1 on error. */
static int
update_one(enum query id, const char *what, const char *case_id, int64_t now)
{
	sqlite3_stmt *s = store_statement(&stmts[id], sql[id], what);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, case_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now);
	if (store_step(s, what) != 0)
		return -1;
	return sqlite3_changes(store_handle()) == 1;
}

/* 0 when the job is marked queued; -1 when it could not be (it then needs a worker now). */
int
store_queue(const char *case_id, int64_t now)
{
	return update_one(Q_QUEUE, "queue job", case_id, now) == 1 ? 0 : -1;
}

/* 1 for the one caller that takes the queued job and starts its worker. */
int
store_take_queued(const char *case_id, int64_t now)
{
	return update_one(Q_TAKE, "take queued job", case_id, now);
}

/*
 * store_queue.c: the count queue.c makes before it starts a worker, and
 * the mark it leaves on a job it starts none for (queued_at, migration 7).
 * The reaper and every worker that ends start queued jobs, oldest first.
 */
#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_queue.h"

/* A job whose worker died still counts here: queue.c looks closer at the cap. */
static const char AT_WORK[] =
    "SELECT count(*) FROM jobs WHERE status IN ('pending', 'generating')"
    " AND queued_at IS NULL AND case_id <> $1";
/* This host's share: the workers it runs, not those starting (no host yet). */
static const char HOST_AT_WORK[] =
    "SELECT count(*) FROM jobs WHERE status = 'generating' AND host_id = $1"
    " AND case_id <> $2";
static const char GENERATING[] =
    "SELECT case_id, coalesce(host_id, ''), worker_pid, coalesce(lease_until, 0) FROM jobs"
    " WHERE status = 'generating' AND case_id <> $1";
static const char QUEUE[] =
    "UPDATE jobs SET queued_at = $2 WHERE case_id = $1 AND status = 'pending'"
    " AND worker_pid IS NULL";
/* It counts as at work from here: its worker is starting. */
#define QUEUED " AND status = 'pending' AND worker_pid IS NULL AND queued_at IS NOT NULL"
static const char TAKE[] =
    "UPDATE jobs SET queued_at = NULL, updated_at = $2 WHERE case_id = $1" QUEUED;
/* Any host with a free place may take it: one another host is taking is passed by. */
static const char TAKE_PG[] =
    "UPDATE jobs SET queued_at = NULL, updated_at = $2 WHERE case_id ="
    " (SELECT case_id FROM jobs WHERE case_id = $1" QUEUED " FOR UPDATE SKIP LOCKED)";

/* Jobs with a worker at work or starting, but for except_case's own. */
int
store_workers_at_work(const char *except_case, long *n)
{
	struct sstmt *s = store_stmt(AT_WORK);
	int64_t v;
	if (s == NULL)
		return -1;
	sbind_text(s, 1, except_case);
	int rc = store_scalar(s, "count workers", &v);
	*n = (long)v;
	return rc == 1 ? 0 : -1;
}

/* Jobs this host's workers hold, but for except_case's own. */
int
store_host_at_work(const char *host, const char *except_case, long *n)
{
	struct sstmt *s = store_stmt(HOST_AT_WORK);
	int64_t v;
	if (s == NULL)
		return -1;
	sbind_text(s, 1, host);
	sbind_text(s, 2, except_case);
	int rc = store_scalar(s, "count this host's workers", &v);
	*n = (long)v;
	return rc == 1 ? 0 : -1;
}

/*
 * Calls fn with each generating job's case and worker, but for
 * except_case's own; fn returning nonzero stops the walk.
 */
int
store_each_generating(const char *except_case, int (*fn)(const char *case_id,
    const char *host_id, long pid, int64_t lease_until, void *), void *arg)
{
	struct sstmt *s = store_stmt(GENERATING);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, except_case);
	enum sstep rc;
	while ((rc = store_next(s, "list generating jobs")) == SS_ROW &&
	    !fn(scol_text(s, 0), scol_text(s, 1), (long)scol_int(s, 2), scol_int(s, 3), arg))
		;
	store_done(s);
	return rc == SS_ERROR ? -1 : 0;
}

/* 1 when the one row changed, 0 when none did, -1 on error. */
static int
update_one(const char *sql, const char *what, const char *case_id, int64_t now)
{
	struct sstmt *s = store_stmt(sql);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, case_id);
	sbind_int(s, 2, now);
	return store_exec_changed(s, what);
}

/* 0 when the job is marked queued; -1 when it could not be (it then needs a worker now). */
int
store_queue(const char *case_id, int64_t now)
{
	return update_one(QUEUE, "queue job", case_id, now) == 1 ? 0 : -1;
}

/* 1 for the one caller that takes the queued job and starts its worker. */
int
store_take_queued(const char *case_id, int64_t now)
{
	return update_one(store_sql(TAKE, TAKE_PG), "take queued job", case_id, now);
}

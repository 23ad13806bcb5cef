/*
 * store_jobs.c: jobs and their images, from generate to the final status:
 * create, load, retry, cancel, the lists, and what the reaper reads and
 * releases. A worker's own writes are store_worker.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"

#define JOB_COLUMNS \
	"SELECT case_id, status, request_hash, total_images, completed_images," \
	" failed_images, retry_count, last_error, webhook_url, worker_pid," \
	" created_at, started_at, completed_at, updated_at, version, queued_at," \
	" cancel_requested_at, coalesce(host_id, ''), epoch, coalesce(heartbeat_at, -1)," \
	" coalesce(lease_until, 0) FROM jobs"

static const char JOB_HASH[] = "SELECT request_hash, status FROM jobs WHERE case_id = $1";
/* Inside a write transaction, PostgreSQL's row is locked: two racing writers wait in turn. */
static const char JOB_HASH_LOCKED[] =
    "SELECT request_hash, status FROM jobs WHERE case_id = $1 FOR UPDATE";
/* For a retry: the job's counters as its images have them. */
static const char RECOUNT[] =
    "UPDATE jobs SET"
    " completed_images = (SELECT count(*) FROM images"
    "   WHERE case_id = $1 AND status = 'completed'),"
    " failed_images = (SELECT count(*) FROM images"
    "   WHERE case_id = $1 AND status = 'failed'),"
    " updated_at = $2 WHERE case_id = $1";
static const char JOB_INSERT[] =
    "INSERT INTO jobs (case_id, total_images, webhook_url, request_hash,"
    " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)";
static const char IMAGE_INSERT[] =
    "INSERT INTO images (case_id, item_id, kind, position, name, description)"
    " VALUES ($1, $2, $3, $4, $5, $6)";
static const char JOB_VERSION[] = "SELECT version, created_at FROM jobs WHERE case_id = $1";
static const char JOB_SELECT[] = JOB_COLUMNS " WHERE case_id = $1";
static const char IMAGES_SELECT[] =
    "SELECT item_id, kind, position, name, description, status, attempts,"
    " last_error, path, url, provider, model, interrupted FROM images WHERE case_id = $1"
    " ORDER BY position";
static const char JOBS_ALL[] = JOB_COLUMNS " ORDER BY created_at";
#define RELEASE_SET \
    "UPDATE jobs SET status = 'pending', worker_pid = NULL, host_id = NULL," \
    " lease_until = NULL, epoch = epoch + 1, updated_at = $3"
#define RELEASE_AS_SEEN \
    " case_id = $1 AND epoch = $2 AND heartbeat_at IS NOT DISTINCT FROM $4" \
    " AND status IN ('pending', 'generating')"
static const char RELEASE[] = RELEASE_SET " WHERE" RELEASE_AS_SEEN;
/* A row another reaper, or a claim, holds is passed by, not waited for. */
static const char RELEASE_PG[] = RELEASE_SET " WHERE case_id = (SELECT case_id FROM jobs"
    " WHERE" RELEASE_AS_SEEN " FOR UPDATE SKIP LOCKED)";
static const char LIVE_JOBS[] =
    "SELECT case_id, status, worker_pid, coalesce(heartbeat_at, updated_at), updated_at,"
    " queued_at IS NOT NULL, coalesce(host_id, ''), epoch, coalesce(lease_until, 0),"
    " heartbeat_at FROM jobs WHERE status IN ('pending', 'generating')"
    " ORDER BY coalesce(queued_at, updated_at)";
/* A task's first run makes its row: the provider checks are one per provider. */
static const char MAINTENANCE[] =
    "INSERT INTO maintenance (name, last_run) VALUES ($1, $2)"
    " ON CONFLICT (name) DO UPDATE SET last_run = excluded.last_run"
    " WHERE maintenance.last_run <= excluded.last_run - $3";
static const char RETRY_IMAGES[] =
    "UPDATE images SET status = 'pending', attempts = 0, last_error = NULL,"
    " api_ms = NULL, finished_at = NULL WHERE case_id = $1 AND status = 'failed'";
static const char RETRY_JOB[] =
    "UPDATE jobs SET status = 'pending', retry_count = retry_count + 1,"
    " last_error = NULL, started_at = NULL, completed_at = NULL, worker_pid = NULL,"
    " cancel_requested_at = NULL, updated_at = $2 WHERE case_id = $1";
static const char CANCEL[] =
    "UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, $2)"
    " WHERE case_id = $1 AND status IN ('pending', 'generating')";
static const char CANCEL_SEEN[] =
    "SELECT cancel_requested_at IS NOT NULL FROM jobs WHERE case_id = $1";
/* Newest first, from a cursor: the indexes of migration 14 (sql/014-list.sql). */
static const char LIST[] = JOB_COLUMNS
    " WHERE (created_at, case_id) < ($1, $2)"
    " ORDER BY created_at DESC, case_id DESC LIMIT $3";
static const char LIST_STATUS[] = JOB_COLUMNS
    " WHERE status = $4 AND (created_at, case_id) < ($1, $2)"
    " ORDER BY created_at DESC, case_id DESC LIMIT $3";
/*
 * The list's two marks: queued reads the pending jobs through the index of
 * migration 14, cancelled the partial index of migration 15.
 */
static const char LIST_QUEUED[] = JOB_COLUMNS
    " WHERE status = 'pending' AND queued_at IS NOT NULL"
    " AND (created_at, case_id) < ($1, $2)"
    " ORDER BY created_at DESC, case_id DESC LIMIT $3";
static const char LIST_CANCELLED[] = JOB_COLUMNS
    " WHERE cancel_requested_at IS NOT NULL"
    " AND (created_at, case_id) < ($1, $2)"
    " ORDER BY created_at DESC, case_id DESC LIMIT $3";

static int
insert_images(const struct case_req *req)
{
	struct sstmt *s = store_stmt(IMAGE_INSERT);
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < req->n_items; i++) {
		const struct item *it = &req->items[i];
		sbind_text(s, 1, req->case_id);
		sbind_text(s, 2, it->id);
		sbind_text(s, 3, casereq_kind_name(it->kind));
		sbind_int(s, 4, (int64_t)i);
		sbind_text(s, 5, it->name);
		sbind_text(s, 6, it->description);
		if (store_exec_done(s, "insert image") != 0)
			return -1;
	}
	return 0;
}

/*
 * Looks for the case first, inside the same write transaction (PostgreSQL:
 * its row locked), so a race cannot double it.
 */
static int
find_existing(const struct case_req *req, char status[12])
{
	struct sstmt *s = store_stmt(store_sql(JOB_HASH, JOB_HASH_LOCKED));
	if (s == NULL)
		return -1;
	sbind_text(s, 1, req->case_id);
	enum sstep rc = store_next(s, "look up a case");
	int found = -1;
	if (rc == SS_ROW) {
		snprintf(status, 12, "%s", scol_text(s, 1));
		found = strcmp(scol_text(s, 0), req->hash) == 0 ? STORE_EXISTS : STORE_CONFLICT;
	} else if (rc == SS_DONE) {
		found = STORE_CREATED;
	}
	store_done(s);
	return found;
}

/*
 * Two generates of one new case at once: with PostgreSQL neither sees the
 * other's row before its insert, so the insert takes the case or finds it
 * taken (ON CONFLICT), and the loser looks again.
 */
int
store_create(const struct case_req *req, int64_t now, char status[12])
{
	struct sstmt *s = store_stmt(store_sql(JOB_INSERT, "INSERT INTO jobs (case_id,"
	    " total_images, webhook_url, request_hash, created_at, updated_at)"
	    " VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (case_id) DO NOTHING"));
	if (s == NULL || store_begin() != 0)
		return -1;
	int rc = find_existing(req, status);
	if (rc != STORE_CREATED)
		goto done;
	snprintf(status, 12, "pending");
	sbind_text(s, 1, req->case_id);
	sbind_int(s, 2, (int64_t)req->n_items);
	sbind_text(s, 3, req->webhook_url);
	sbind_text(s, 4, req->hash);
	sbind_int(s, 5, now);
	int inserted = store_exec_changed(s, "insert job");
	if (inserted == 0)
		rc = find_existing(req, status);
	else if (inserted < 0 || insert_images(req) != 0)
		rc = -1;
done:
	if (rc < 0 || store_commit() != 0) {
		store_rollback();
		return -1;
	}
	return rc;
}

/* Returns 1 with the version, 0 for an unknown case, -1 on error. */
int
store_version(const char *case_id, int64_t *version, int64_t *created_at)
{
	struct sstmt *s = store_stmt(JOB_VERSION);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, case_id);
	enum sstep rc = store_next(s, "a job's version");
	if (rc == SS_ROW) {
		*version = scol_int(s, 0);
		*created_at = scol_int(s, 1);
	}
	store_done(s);
	return rc == SS_ROW ? 1 : rc == SS_DONE ? 0 : -1;
}

static void
read_job(struct sstmt *s, struct job *j)
{
	memset(j, 0, sizeof(*j));
	scol_copy(s, 0, j->case_id, sizeof(j->case_id));
	scol_copy(s, 1, j->status, sizeof(j->status));
	scol_copy(s, 2, j->request_hash, sizeof(j->request_hash));
	j->total = (int)scol_int(s, 3);
	j->completed = (int)scol_int(s, 4);
	j->failed = (int)scol_int(s, 5);
	j->retry_count = (int)scol_int(s, 6);
	j->last_error = scol_strdup(s, 7);
	j->webhook_url = scol_strdup(s, 8);
	j->worker_pid = (long)scol_int(s, 9);
	j->created_at = scol_int(s, 10);
	j->started_at = scol_int(s, 11);
	j->completed_at = scol_int(s, 12);
	j->updated_at = scol_int(s, 13);
	j->version = scol_int(s, 14);
	j->queued_at = scol_int(s, 15);
	j->cancelled_at = scol_int(s, 16);
	scol_copy(s, 17, j->host_id, sizeof(j->host_id));
	j->epoch = scol_int(s, 18);
	j->beat_at = scol_int(s, 19);
	j->lease_until = scol_int(s, 20);
}

static void
read_image(struct sstmt *s, struct image *im)
{
	memset(im, 0, sizeof(*im));
	scol_copy(s, 0, im->item_id, sizeof(im->item_id));
	im->kind = strcmp(scol_text(s, 1), "evidence") == 0 ? KIND_EVIDENCE : KIND_LOCATION;
	im->position = (int)scol_int(s, 2);
	im->name = scol_strdup(s, 3);
	im->description = scol_strdup(s, 4);
	scol_copy(s, 5, im->status, sizeof(im->status));
	im->attempts = (int)scol_int(s, 6);
	im->error = scol_strdup(s, 7);
	im->path = scol_strdup(s, 8);
	im->url = scol_strdup(s, 9);
	im->provider = scol_strdup(s, 10);
	im->model = scol_strdup(s, 11);
	im->interrupted = (int)scol_int(s, 12);
}

static int
load_images(const char *case_id, int total, struct image **out, size_t *n)
{
	struct sstmt *s = store_stmt(IMAGES_SELECT);
	if (s == NULL)
		return -1;
	*out = calloc((size_t)total + 1, sizeof(**out));
	if (*out == NULL)
		return -1;
	sbind_text(s, 1, case_id);
	enum sstep rc;
	while ((rc = store_next(s, "load images")) == SS_ROW && *n < (size_t)total)
		read_image(s, &(*out)[(*n)++]);
	store_done(s);
	return rc == SS_ERROR ? -1 : 0;
}

/* store_load inside the caller's transaction. */
int
store_load_current(const char *case_id, struct job *job, struct image **images, size_t *n)
{
	struct sstmt *s = store_stmt(JOB_SELECT);
	if (images != NULL) {
		*images = NULL;
		*n = 0;
	}
	if (s == NULL)
		return -1;
	sbind_text(s, 1, case_id);
	enum sstep rc = store_next(s, "load a job");
	if (rc == SS_ROW)
		read_job(s, job);
	store_done(s);
	int found = rc == SS_ROW ? 1 : rc == SS_DONE ? 0 : -1;
	if (found == 1 && images != NULL && load_images(case_id, job->total, images, n) != 0) {
		store_free(job, *images, *n);
		*images = NULL;
		*n = 0;
		found = -1;
	}
	return found;
}

/*
 * Reads the job and its images in one read transaction, so the two agree;
 * with images NULL, the job's row only. Returns 1 when found, 0 for an
 * unknown case, -1 on error.
 */
int
store_load(const char *case_id, struct job *job, struct image **images, size_t *n)
{
	if (store_begin_read() != 0)
		return -1;
	int found = store_load_current(case_id, job, images, n);
	if (store_commit() != 0) {
		store_free(job, images ? *images : NULL, images ? *n : 0);
		return -1;
	}
	return found;
}

void
store_free(struct job *job, struct image *images, size_t n)
{
	if (job != NULL) {
		free(job->last_error);
		free(job->webhook_url);
		job->last_error = job->webhook_url = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		free(images[i].name);
		free(images[i].description);
		free(images[i].error);
		free(images[i].path);
		free(images[i].url);
		free(images[i].provider);
		free(images[i].model);
		free(images[i].data);
	}
	free(images);
}

/* Each job row of a bound statement, to fn until it returns non-zero. */
static int
each_job_row(struct sstmt *s, const char *what, int (*fn)(const struct job *, void *),
    void *arg)
{
	enum sstep rc;
	while ((rc = store_next(s, what)) == SS_ROW) {
		struct job j;
		read_job(s, &j);
		int stop = fn(&j, arg);
		store_free(&j, NULL, 0);
		if (stop)
			break;
	}
	store_done(s);
	return rc == SS_ERROR ? -1 : 0;
}

int
store_each_job(int (*fn)(const struct job *, void *), void *arg)
{
	struct sstmt *s = store_stmt(JOBS_ALL);
	return s == NULL ? -1 : each_job_row(s, "list jobs", fn, arg);
}

/*
 * Up to limit jobs older than the cursor (before_at, before_id), newest
 * first; of one status, unless status is NULL, where "queued" and
 * "cancelled" are the jobs jobjson_head marks so. fn returns non-zero to stop.
 */
int
store_each_recent_job(const char *status, int64_t before_at, const char *before_id,
    int limit, int (*fn)(const struct job *, void *), void *arg)
{
	const char *sql = status == NULL ? LIST : strcmp(status, "queued") == 0 ?
	    LIST_QUEUED : strcmp(status, "cancelled") == 0 ? LIST_CANCELLED : LIST_STATUS;
	struct sstmt *s = store_stmt(sql);
	if (s == NULL)
		return -1;
	sbind_int(s, 1, before_at);
	sbind_text(s, 2, before_id);
	sbind_int(s, 3, limit);
	if (sql == LIST_STATUS)
		sbind_text(s, 4, status);
	return each_job_row(s, "list recent jobs", fn, arg);
}

/*
 * Puts a job whose worker is gone back to pending, if it is as the reaper
 * saw it (the same epoch, and no heartbeat since): of two reapers, on any
 * hosts, one wins; the epoch moves, and the worker it was taken from is
 * fenced out at its next write.
 */
int
store_release(const struct live_job *j, int64_t now)
{
	struct sstmt *s = store_stmt(store_sql(RELEASE, RELEASE_PG));
	if (s == NULL)
		return -1;
	sbind_text(s, 1, j->case_id);
	sbind_int(s, 2, j->epoch);
	sbind_int(s, 3, now);
	sbind_known(s, 4, j->beat_at);
	return store_exec_changed(s, "release job");
}

int
store_each_live_job(int (*fn)(const struct live_job *, void *), void *arg)
{
	struct sstmt *s = store_stmt(LIVE_JOBS);
	if (s == NULL)
		return -1;
	enum sstep rc;
	while ((rc = store_next(s, "list live jobs")) == SS_ROW) {
		struct live_job j;
		scol_copy(s, 0, j.case_id, sizeof(j.case_id));
		scol_copy(s, 1, j.status, sizeof(j.status));
		j.worker_pid = (long)scol_int(s, 2);
		j.heartbeat_at = scol_int(s, 3);
		j.updated_at = scol_int(s, 4);
		j.queued = (int)scol_int(s, 5);
		scol_copy(s, 6, j.host_id, sizeof(j.host_id));
		j.epoch = scol_int(s, 7);
		j.lease_until = scol_int(s, 8);
		j.beat_at = store_engine()->is_null(s, 9) ? -1 : scol_int(s, 9);
		if (fn(&j, arg))
			break;
	}
	store_done(s);
	return rc == SS_ERROR ? -1 : 0;
}

/* Returns 1 if this process is the one to run task now: at most once per interval. */
int
store_maintenance_due(const char *task, int64_t now, int64_t interval_ms)
{
	struct sstmt *s = store_stmt(MAINTENANCE);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, task);
	sbind_int(s, 2, now);
	sbind_int(s, 3, interval_ms);
	return store_exec_changed(s, "maintenance");
}

/* The job's status, inside the caller's transaction: 1 found, 0 not, -1 error. */
int
store_job_status(const char *case_id, char status[12])
{
	struct sstmt *s = store_stmt(store_sql(JOB_HASH, JOB_HASH_LOCKED));
	if (s == NULL)
		return -1;
	sbind_text(s, 1, case_id);
	enum sstep rc = store_next(s, "a job's status");
	if (rc == SS_ROW)
		scol_copy(s, 1, status, 12);
	store_done(s);
	return rc == SS_ROW ? 1 : rc == SS_DONE ? 0 : -1;
}

static int
recount(const char *case_id, int64_t now)
{
	struct sstmt *s = store_stmt(RECOUNT);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, case_id);
	sbind_int(s, 2, now);
	return store_exec_done(s, "recount images");
}

static int
is_final(const char *status)
{
	return strcmp(status, "pending") != 0 && strcmp(status, "generating") != 0;
}

/*
 * Sets the failed images of a finished job back to pending, with fresh
 * attempts, and the job with them, for a new run. *n: how many. The
 * triggers of migration 8 keep the rows as they stood.
 */
enum store_retry
store_retry(const char *case_id, int64_t now, int *n)
{
	struct sstmt *imgs = store_stmt(RETRY_IMAGES), *job = store_stmt(RETRY_JOB);
	char status[12];
	enum store_retry rc = RETRY_ERROR;
	if (imgs == NULL || job == NULL || store_begin() != 0)
		return RETRY_ERROR;
	int found = store_job_status(case_id, status);
	if (found <= 0) {
		rc = found == 0 ? RETRY_NOT_FOUND : RETRY_ERROR;
		goto done;
	}
	if (!is_final(status)) {
		rc = RETRY_RUNNING;
		goto done;
	}
	sbind_text(imgs, 1, case_id);
	enum sstep st = store_next(imgs, "retry images");
	*n = st == SS_ERROR ? 0 : (int)store_engine()->changes(imgs);
	store_done(imgs);
	if (st == SS_ERROR)
		goto done;
	if (*n == 0) {
		rc = RETRY_NOTHING;
		goto done;
	}
	sbind_text(job, 1, case_id);
	sbind_int(job, 2, now);
	if (store_exec_done(job, "retry job") != 0 || recount(case_id, now) != 0 ||
	    store_commit() != 0)
		goto done;
	return RETRY_STARTED;
done:
	store_rollback();
	return rc;
}

/* Asks the job's worker to stop. */
enum store_cancel
store_cancel(const char *case_id, int64_t now)
{
	struct sstmt *s = store_stmt(CANCEL);
	char status[12];
	if (s == NULL || store_begin() != 0)
		return CANCEL_ERROR;
	sbind_text(s, 1, case_id);
	sbind_int(s, 2, now);
	int changed = store_exec_changed(s, "cancel");
	int found = changed != 0 ? changed : store_job_status(case_id, status);
	if (found < 0 || store_commit() != 0) {
		store_rollback();
		return CANCEL_ERROR;
	}
	return changed ? CANCEL_ASKED : found ? CANCEL_FINISHED : CANCEL_NOT_FOUND;
}

int
store_cancel_requested(const char *case_id)
{
	struct sstmt *s = store_stmt(CANCEL_SEEN);
	int64_t asked;
	if (s == NULL)
		return -1;
	sbind_text(s, 1, case_id);
	return store_scalar(s, "cancel asked", &asked) == 1 ? (int)asked : -1;
}

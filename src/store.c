/* store.c: jobs, images and webhook deliveries in SQLite, bound parameters only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "migrations.h"
#include "store.h"
#include "store_metrics.h"
#include "store_provider.h"
#include "store_health.h"
#include "store_dispatch.h"
#include "store_outbox.h"

#define BUSY_TIMEOUT_MS 5000
#define RATE_WINDOW_MS 61000
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Every statement is prepared once, on first use, and kept for the process's life. */
enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_JOB_HASH, S_JOB_INSERT, S_IMAGE_INSERT, S_VERSION,
	S_JOB_SELECT, S_IMAGES_SELECT, S_JOBS_ALL,
	S_CLAIM, S_HEARTBEAT, S_RELEASE, S_LIVE_JOBS, S_MAINTENANCE, S_IMAGE_START, S_IMAGE_DONE, S_IMAGE_FAIL, S_IMAGE_RETRY, S_COUNTERS, S_FINISH,
	S_IMAGE_INTERRUPTED, S_RETRY_IMAGES, S_RETRY_JOB, S_CANCEL, S_CANCEL_ASKED,
	S_DELIVERY_RESULT, S_DELIVERY_PENDING, S_RATE_COUNT, S_RATE_ADD, S_RATE_PRUNE,
	S_LIST, S_LIST_STATUS,
	S_LIST_QUEUED, S_LIST_CANCELLED,
	S_COUNT
};

static const char *const sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_JOB_HASH] = "SELECT request_hash, status FROM jobs WHERE case_id = ?1",
	[S_JOB_INSERT] =
	    "INSERT INTO jobs (case_id, total_images, webhook_url, request_hash,"
	    " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
	[S_IMAGE_INSERT] =
	    "INSERT INTO images (case_id, item_id, kind, position, name, description)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_VERSION] = "SELECT version, created_at FROM jobs WHERE case_id = ?1",
	[S_JOB_SELECT] =
	    "SELECT case_id, status, request_hash, total_images, completed_images,"
	    " failed_images, retry_count, last_error, webhook_url, worker_pid,"
	    " created_at, started_at, completed_at, updated_at, version, queued_at,"
	    " cancel_requested_at"
	    " FROM jobs WHERE case_id = ?1",
	[S_IMAGES_SELECT] =
	    "SELECT item_id, kind, position, name, description, status, attempts,"
	    " last_error, path, url, provider, model, interrupted FROM images WHERE case_id = ?1"
	    " ORDER BY position",
	[S_JOBS_ALL] =
	    "SELECT case_id, status, request_hash, total_images, completed_images,"
	    " failed_images, retry_count, last_error, webhook_url, worker_pid,"
	    " created_at, started_at, completed_at, updated_at, version, queued_at,"
	    " cancel_requested_at"
	    " FROM jobs ORDER BY created_at",
	[S_CLAIM] =
	    "UPDATE jobs SET status = 'generating', worker_pid = ?2, queued_at = NULL,"
	    " started_at = coalesce(started_at, ?3), heartbeat_at = ?3, updated_at = ?3"
	    " WHERE case_id = ?1 AND status = 'pending'",
	[S_HEARTBEAT] =
	    "UPDATE jobs SET heartbeat_at = ?3"
	    " WHERE case_id = ?1 AND worker_pid = ?2 AND status = 'generating'",
	[S_RELEASE] =
	    "UPDATE jobs SET status = 'pending', worker_pid = NULL, updated_at = ?3"
	    " WHERE case_id = ?1 AND worker_pid IS ?2 AND status IN ('pending', 'generating')",
	[S_LIVE_JOBS] =
	    "SELECT case_id, status, worker_pid, coalesce(heartbeat_at, updated_at), updated_at,"
	    " queued_at IS NOT NULL"
	    " FROM jobs WHERE status IN ('pending', 'generating')"
	    /* A state host's dispatched jobs are their worker hosts' (dispatch.c). */
	    " AND case_id NOT IN (SELECT case_id FROM dispatches)"
	    " ORDER BY coalesce(queued_at, updated_at)",
	/* A task's first run makes its row: the provider checks are one per provider. */
	[S_MAINTENANCE] =
	    "INSERT INTO maintenance (name, last_run) VALUES (?1, ?2)"
	    " ON CONFLICT (name) DO UPDATE SET last_run = excluded.last_run"
	    " WHERE maintenance.last_run <= excluded.last_run - ?3",
	[S_IMAGE_START] =
	    "UPDATE images SET status = 'generating', attempts = attempts + 1,"
	    " started_at = ?3, provider = ?4, model = ?5 WHERE case_id = ?1 AND item_id = ?2",
	[S_IMAGE_DONE] =
	    "UPDATE images SET status = 'completed', path = ?3, url = ?4, bytes = ?5,"
	    " last_error = NULL, finished_at = ?6, api_ms = coalesce(?7, api_ms)"
	    " WHERE case_id = ?1 AND item_id = ?2",
	/* An image a webhook report completed stays so: counts never go down. */
	[S_IMAGE_FAIL] =
	    "UPDATE images SET status = 'failed', last_error = ?3, finished_at = ?4,"
	    " api_ms = coalesce(?5, api_ms) WHERE case_id = ?1 AND item_id = ?2"
	    " AND status <> 'completed'",
	[S_IMAGE_RETRY] =
	    "UPDATE images SET status = 'pending', last_error = ?3"
	    " WHERE case_id = ?1 AND item_id = ?2",
	[S_COUNTERS] =
	    "UPDATE jobs SET"
	    " completed_images = (SELECT count(*) FROM images"
	    "   WHERE case_id = ?1 AND status = 'completed'),"
	    " failed_images = (SELECT count(*) FROM images"
	    "   WHERE case_id = ?1 AND status = 'failed'),"
	    " updated_at = ?2 WHERE case_id = ?1",
	[S_FINISH] =
	    "UPDATE jobs SET status = CASE"
	    "   WHEN completed_images = total_images THEN 'completed'"
	    "   WHEN completed_images = 0 THEN 'failed' ELSE 'partial' END,"
	    " last_error = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled by request'"
	    "   ELSE (SELECT item_id || ': ' || last_error FROM images"
	    "   WHERE case_id = ?1 AND status = 'failed'"
	    "   ORDER BY finished_at DESC, position LIMIT 1) END,"
	    " completed_at = ?2, updated_at = ?2 WHERE case_id = ?1"
	    " RETURNING status",
	/*
	 * Back to pending at once: a worker killed before it asks again must
	 * not have the same attempt refunded twice by the next.
	 */
	[S_IMAGE_INTERRUPTED] =
	    "UPDATE images SET status = 'pending', attempts = max(attempts - 1, 0),"
	    " interrupted = interrupted + 1"
	    " WHERE case_id = ?1 AND item_id = ?2 AND status = 'generating'",
	[S_RETRY_IMAGES] =
	    "UPDATE images SET status = 'pending', attempts = 0, last_error = NULL,"
	    " api_ms = NULL, finished_at = NULL WHERE case_id = ?1 AND status = 'failed'",
	[S_RETRY_JOB] =
	    "UPDATE jobs SET status = 'pending', retry_count = retry_count + 1,"
	    " last_error = NULL, started_at = NULL, completed_at = NULL, worker_pid = NULL,"
	    " cancel_requested_at = NULL, updated_at = ?2 WHERE case_id = ?1",
	[S_CANCEL] =
	    "UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, ?2)"
	    " WHERE case_id = ?1 AND status IN ('pending', 'generating')",
	[S_CANCEL_ASKED] =
	    "SELECT cancel_requested_at IS NOT NULL FROM jobs WHERE case_id = ?1",
	[S_DELIVERY_RESULT] =
	    "UPDATE webhook_deliveries SET attempts = ?3,"
	    " status = CASE WHEN status = 'superseded' AND ?2 <> 'delivered' THEN status"
	    "   ELSE ?2 END,"
	    " response_code = ?4, last_error = ?5, latency_ms = ?6,"
	    " next_attempt_at = ?7,"
	    " delivered_at = CASE WHEN ?2 = 'delivered' THEN ?8 END WHERE id = ?1",
	[S_DELIVERY_PENDING] =
	    "SELECT d.id, d.case_id, d.event, d.url, d.payload, d.attempts,"
	    " coalesce(d.next_attempt_at, 0), coalesce(j.worker_pid, 0), j.status,"
	    " coalesce(d.webhook_id, d.case_id || '-' || d.id)"
	    " FROM webhook_deliveries d JOIN jobs j USING (case_id)"
	    " WHERE d.status = 'pending' AND j.status IN ('completed', 'partial', 'failed')"
	    " ORDER BY d.case_id, d.id LIMIT ?1",
	[S_RATE_COUNT] =
	    "SELECT count(*), min(at) FROM api_calls WHERE provider = ?2 AND at > ?1",
	[S_RATE_ADD] = "INSERT INTO api_calls (at, case_id, provider) VALUES (?1, ?2, ?3)",
	[S_RATE_PRUNE] = "DELETE FROM api_calls WHERE at <= ?1",
	/* Newest first, from a cursor: the indexes of migration 14 (sql/014-list.sql). */
	[S_LIST] =
	    "SELECT case_id, status, request_hash, total_images, completed_images,"
	    " failed_images, retry_count, last_error, webhook_url, worker_pid,"
	    " created_at, started_at, completed_at, updated_at, version, queued_at,"
	    " cancel_requested_at"
	    " FROM jobs WHERE (created_at, case_id) < (?1, ?2)"
	    " ORDER BY created_at DESC, case_id DESC LIMIT ?3",
	[S_LIST_STATUS] =
	    "SELECT case_id, status, request_hash, total_images, completed_images,"
	    " failed_images, retry_count, last_error, webhook_url, worker_pid,"
	    " created_at, started_at, completed_at, updated_at, version, queued_at,"
	    " cancel_requested_at"
	    " FROM jobs WHERE status = ?4 AND (created_at, case_id) < (?1, ?2)"
	    " ORDER BY created_at DESC, case_id DESC LIMIT ?3",
	/*
	 * The list's two marks: queued reads the pending jobs through the
	 * index of migration 14, cancelled the partial index of migration 15.
	 */
	[S_LIST_QUEUED] =
	    "SELECT case_id, status, request_hash, total_images, completed_images,"
	    " failed_images, retry_count, last_error, webhook_url, worker_pid,"
	    " created_at, started_at, completed_at, updated_at, version, queued_at,"
	    " cancel_requested_at"
	    " FROM jobs WHERE status = 'pending' AND queued_at IS NOT NULL"
	    " AND (created_at, case_id) < (?1, ?2)"
	    " ORDER BY created_at DESC, case_id DESC LIMIT ?3",
	[S_LIST_CANCELLED] =
	    "SELECT case_id, status, request_hash, total_images, completed_images,"
	    " failed_images, retry_count, last_error, webhook_url, worker_pid,"
	    " created_at, started_at, completed_at, updated_at, version, queued_at,"
	    " cancel_requested_at"
	    " FROM jobs WHERE cancel_requested_at IS NOT NULL"
	    " AND (created_at, case_id) < (?1, ?2)"
	    " ORDER BY created_at DESC, case_id DESC LIMIT ?3",
};

/*
 * The writer is every route's connection. A FastCGI responder opens a
 * reader too, for the status route alone: polls then never wait behind a
 * write of another thread that waits for SQLite's write lock, and run
 * beside the writes. Each thread picks one for the request in hand
 * (store_use_reader), under the lock that guards that connection.
 */
struct conn {
	sqlite3 *db;
	sqlite3_stmt *stmts[S_COUNT];
};
static struct conn writer, reader;
static _Thread_local struct conn *cur = &writer;
static _Thread_local int busy_seen;	/* this request met a lock held past the timeout */

/* A failed call: was it a lock that outlasted the busy timeout? */
void
store_note_error(sqlite3 *db)
{
	int e = sqlite3_extended_errcode(db) & 0xff;
	if (e == SQLITE_BUSY || e == SQLITE_LOCKED)
		busy_seen = 1;
	store_health_note(e);
}

/* 1 when a call of this thread's request failed on a lock: the answer is 503. */
int
store_busy(void)
{
	return busy_seen;
}

void
store_busy_reset(void)
{
	busy_seen = 0;
}

static sqlite3_stmt *
stmt(enum stmt_id id)
{
	if (cur->stmts[id] == NULL &&
	    sqlite3_prepare_v3(cur->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT,
	    &cur->stmts[id], NULL) != SQLITE_OK) {
		log_error("store: prepare statement %d: %s", (int)id, sqlite3_errmsg(cur->db));
		return NULL;
	}
	return cur->stmts[id];
}

/* Runs a statement that returns no row, leaving it reset for its next use. */
static int
step_done(sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_note_error(cur->db);
		log_error("store: %s: %s", what, sqlite3_errmsg(cur->db));
		return -1;
	}
	return 0;
}

static void
finish(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static int
exec_simple(enum stmt_id id)
{
	sqlite3_stmt *s = stmt(id);
	return s == NULL ? -1 : step_done(s, sql[id]);
}

/*
 * For the store's other files (store_metrics.c, store_progress.c,
 * store_queue.c): their statements are prepared once into *slot on the
 * writer and kept, like this file's own.
 */
sqlite3_stmt *
store_statement(sqlite3_stmt **slot, const char *text, const char *what)
{
	if (writer.db == NULL) {
		log_error("store: %s: the store is not open", what);
		return NULL;
	}
	if (*slot == NULL && sqlite3_prepare_v3(writer.db, text, -1, SQLITE_PREPARE_PERSISTENT,
	    slot, NULL) != SQLITE_OK) {
		log_error("store: prepare %s: %s", what, sqlite3_errmsg(writer.db));
		return NULL;
	}
	return *slot;
}

/* Steps a statement that returns no row (or ignores it), then resets it. */
int
store_step(sqlite3_stmt *s, const char *what)
{
	return step_done(s, what);
}

static int begin(void) { return exec_simple(S_BEGIN); }
static int commit(void) { return exec_simple(S_COMMIT); }
static void rollback(void) { (void)exec_simple(S_ROLLBACK); }

static void
close_conn(struct conn *c)
{
	for (int i = 0; i < S_COUNT; i++) {
		sqlite3_finalize(c->stmts[i]);
		c->stmts[i] = NULL;
	}
	/*
	 * The other store files' statements too: with one left, the close
	 * fails, and the last connection to close would not checkpoint the
	 * -wal into the .db file.
	 */
	sqlite3_stmt *s;
	while (c->db != NULL && (s = sqlite3_next_stmt(c->db, NULL)) != NULL)
		sqlite3_finalize(s);
	sqlite3_close(c->db);
	c->db = NULL;
}

/* what names the statement in the log: a migration's whole text would drown the reason. */
static int
exec_sql(const char *text, const char *what)
{
	char *msg = NULL;
	if (sqlite3_exec(cur->db, text, NULL, NULL, &msg) != SQLITE_OK) {
		store_note_error(cur->db);
		log_error("store: %s: %s", what, msg ? msg : sqlite3_errmsg(cur->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
exec_pragma(const char *text)
{
	return exec_sql(text, text);
}

/* Opens c on the database; the pragmas are the connection's, the file's own (WAL) too. */
static int
open_conn(struct conn *c, const char *path, int flags, const char *const *pragmas)
{
	struct conn *saved = cur;
	int rc = 0;
	cur = c;
	if (c == &writer)
		store_health_preflight(path);
	if (sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("store: open %s: %s", path, c->db ? sqlite3_errmsg(c->db) :
		    "out of memory");
		rc = -1;
	} else if (sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS) != SQLITE_OK) {
		rc = -1;
	}
	if (rc == 0 && c == &writer)
		store_health_opened(c->db, path);
	for (; rc == 0 && *pragmas != NULL; pragmas++)
		rc = exec_pragma(*pragmas);
	if (rc != 0)
		close_conn(c);
	cur = saved;
	return rc;
}

/* synchronous=NORMAL is durable across process crashes in WAL mode, and 10x cheaper. */
int
store_open(const char *path)
{
	static const char *const pragmas[] = { "PRAGMA journal_mode = WAL",
	    "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON", NULL };
	int rc = open_conn(&writer, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, pragmas);
	if (rc != 0 && store_damaged())
		store_health_damaged(path, sqlite3_errstr(SQLITE_CORRUPT));
	return rc;
}

/* The status route's connection; query_only, so that no bug can write through it. */
int
store_open_reader(const char *path)
{
	static const char *const pragmas[] = { "PRAGMA query_only = ON", NULL };
	return open_conn(&reader, path, SQLITE_OPEN_READWRITE, pragmas);
}

/* This thread's requests use the reader from now on (on), or the writer. */
void
store_use_reader(int on)
{
	cur = on && reader.db != NULL ? &reader : &writer;
}

/* 1 while this thread uses the reader: store_metrics.c keeps statements for each. */
int
store_on_reader(void)
{
	return cur == &reader;
}

/*
 * As store_statement, on this thread's connection; slots[0] is the
 * writer's, slots[1] the reader's.
 */
sqlite3_stmt *
store_statement_here(sqlite3_stmt **slots, const char *text, const char *what)
{
	sqlite3_stmt **slot = &slots[cur == &reader];
	if (cur->db == NULL) {
		log_error("store: %s: the store is not open", what);
		return NULL;
	}
	if (*slot == NULL && sqlite3_prepare_v3(cur->db, text, -1, SQLITE_PREPARE_PERSISTENT,
	    slot, NULL) != SQLITE_OK) {
		log_error("store: prepare %s: %s", what, sqlite3_errmsg(cur->db));
		return NULL;
	}
	return *slot;
}

static int
user_version(int *v)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(cur->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	*v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Each migration and its user_version bump commit together, and the version
 * is read inside the write transaction, so responders starting at once
 * cannot apply the same migration twice.
 */
static int
migrate_one(int *version)
{
	char bump[64];
	if (exec_pragma("BEGIN IMMEDIATE") != 0)
		return -1;
	if (user_version(version) != 0) {
		log_error("store: read user_version: %s", sqlite3_errmsg(cur->db));
		goto fail;
	}
	if (*version >= N_MIGRATIONS)
		return exec_pragma("COMMIT");
	char what[32];
	snprintf(what, sizeof(what), "migration %d", *version + 1);
	snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", *version + 1);
	if (exec_sql(migrations[*version], what) != 0 || exec_pragma(bump) != 0)
		goto fail;
	if (exec_pragma("COMMIT") != 0)
		goto fail;
	(*version)++;
	return 0;
fail:
	exec_pragma("ROLLBACK");
	return -1;
}

int
store_migrate(int *from, int *to)
{
	int v = -1;
	*from = -1;
	do {
		if (migrate_one(&v) != 0)
			return -1;
		if (*from < 0)
			*from = v - (v > 0 && v <= N_MIGRATIONS ? 1 : 0);
	} while (v < N_MIGRATIONS);
	*to = v;
	return 0;
}

/* 0 when the open failed: a responder on a damaged or read-only file serves 503s. */
int
store_is_open(void)
{
	return writer.db != NULL;
}

/* PRAGMA quick_check of the writer's file: 0 when sound, -1 (and a log line) if not. */
int
store_check(void)
{
	if (writer.db == NULL)
		return store_damaged() ? -1 : 0;
	return store_health_check(writer.db, sqlite3_db_filename(writer.db, "main"));
}

/* The admin commands but initdb need the schema, and never create a database. */
int
store_check_schema(const char *path)
{
	int v = 0;
	if (user_version(&v) != 0) {
		log_error("store: %s: %s: is it an imagegen database? run imagegen initdb",
		    path, sqlite3_errmsg(cur->db));
		return -1;
	}
	if (v == 0)
		log_error("store: %s: no schema: run imagegen initdb", path);
	else if (v < N_MIGRATIONS)
		log_error("store: %s: schema version %d, this imagegen needs %d: run imagegen "
		    "initdb", path, v, N_MIGRATIONS);
	return v > 0 && v >= N_MIGRATIONS ? 0 : -1;
}

/* For the store's other files: the writer, which their statements are on. */
struct sqlite3 *
store_handle(void)
{
	return writer.db;
}

void
store_close(void)
{
	store_metrics_close();
	store_provider_close();
	store_outbox_close();
	store_dispatch_close();
	close_conn(&reader);
	close_conn(&writer);
}

static int
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

static int
insert_images(const struct case_req *req)
{
	sqlite3_stmt *s = stmt(S_IMAGE_INSERT);
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < req->n_items; i++) {
		const struct item *it = &req->items[i];
		bind_text(s, 1, req->case_id);
		bind_text(s, 2, it->id);
		bind_text(s, 3, casereq_kind_name(it->kind));
		sqlite3_bind_int(s, 4, (int)i);
		bind_text(s, 5, it->name);
		bind_text(s, 6, it->description);
		if (step_done(s, "insert image") != 0)
			return -1;
	}
	return 0;
}

/* Looks for the case first, inside the same write transaction, so a race cannot double it. */
static int
find_existing(const struct case_req *req, char status[12])
{
	sqlite3_stmt *s = stmt(S_JOB_HASH);
	if (s == NULL)
		return -1;
	bind_text(s, 1, req->case_id);
	int rc = sqlite3_step(s);
	int found = -1;
	if (rc == SQLITE_ROW) {
		const char *hash = (const char *)sqlite3_column_text(s, 0);
		snprintf(status, 12, "%s", (const char *)sqlite3_column_text(s, 1));
		found = hash && strcmp(hash, req->hash) == 0 ? STORE_EXISTS : STORE_CONFLICT;
	} else if (rc == SQLITE_DONE) {
		found = STORE_CREATED;
	} else {
		log_error("store: case %s: look up: %s", req->case_id, sqlite3_errmsg(cur->db));
	}
	finish(s);
	return found;
}

int
store_create(const struct case_req *req, int64_t now, char status[12])
{
	sqlite3_stmt *s = stmt(S_JOB_INSERT);
	if (s == NULL || begin() != 0)
		return -1;
	int rc = find_existing(req, status);
	if (rc != STORE_CREATED)
		goto done;
	snprintf(status, 12, "pending");
	bind_text(s, 1, req->case_id);
	sqlite3_bind_int(s, 2, (int)req->n_items);
	bind_text(s, 3, req->webhook_url);
	bind_text(s, 4, req->hash);
	sqlite3_bind_int64(s, 5, now);
	if (step_done(s, "insert job") != 0 || insert_images(req) != 0)
		rc = -1;
done:
	if (rc < 0 || commit() != 0) {
		rollback();
		return -1;
	}
	return rc;
}

/* Returns 1 with the version, 0 for an unknown case, -1 on error. */
int
store_version(const char *case_id, int64_t *version, int64_t *created_at)
{
	sqlite3_stmt *s = stmt(S_VERSION);
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	int rc = sqlite3_step(s), found = -1;
	if (rc == SQLITE_ROW) {
		*version = sqlite3_column_int64(s, 0);
		*created_at = sqlite3_column_int64(s, 1);
		found = 1;
	} else if (rc == SQLITE_DONE) {
		found = 0;
	} else {
		log_error("store: case %s: version: %s", case_id, sqlite3_errmsg(cur->db));
	}
	finish(s);
	return found;
}

static char *
column_strdup(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);
	return v ? strdup((const char *)v) : NULL;
}

static void
read_job(sqlite3_stmt *s, struct job *j)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->case_id, sizeof(j->case_id), "%s", sqlite3_column_text(s, 0));
	snprintf(j->status, sizeof(j->status), "%s", sqlite3_column_text(s, 1));
	snprintf(j->request_hash, sizeof(j->request_hash), "%s", sqlite3_column_text(s, 2));
	j->total = sqlite3_column_int(s, 3);
	j->completed = sqlite3_column_int(s, 4);
	j->failed = sqlite3_column_int(s, 5);
	j->retry_count = sqlite3_column_int(s, 6);
	j->last_error = column_strdup(s, 7);
	j->webhook_url = column_strdup(s, 8);
	j->worker_pid = (long)sqlite3_column_int64(s, 9);
	j->created_at = sqlite3_column_int64(s, 10);
	j->started_at = sqlite3_column_int64(s, 11);
	j->completed_at = sqlite3_column_int64(s, 12);
	j->updated_at = sqlite3_column_int64(s, 13);
	j->version = sqlite3_column_int64(s, 14);
	j->queued_at = sqlite3_column_int64(s, 15);
	j->cancelled_at = sqlite3_column_int64(s, 16);
}

static void
read_image(sqlite3_stmt *s, struct image *im)
{
	memset(im, 0, sizeof(*im));
	snprintf(im->item_id, sizeof(im->item_id), "%s", sqlite3_column_text(s, 0));
	im->kind = strcmp((const char *)sqlite3_column_text(s, 1), "evidence") == 0 ?
	    KIND_EVIDENCE : KIND_LOCATION;
	im->position = sqlite3_column_int(s, 2);
	im->name = column_strdup(s, 3);
	im->description = column_strdup(s, 4);
	snprintf(im->status, sizeof(im->status), "%s", sqlite3_column_text(s, 5));
	im->attempts = sqlite3_column_int(s, 6);
	im->error = column_strdup(s, 7);
	im->path = column_strdup(s, 8);
	im->url = column_strdup(s, 9);
	im->provider = column_strdup(s, 10);
	im->model = column_strdup(s, 11);
	im->interrupted = sqlite3_column_int(s, 12);
}

static int
load_images(const char *case_id, int total, struct image **out, size_t *n)
{
	sqlite3_stmt *s = stmt(S_IMAGES_SELECT);
	if (s == NULL)
		return -1;
	*out = calloc((size_t)total + 1, sizeof(**out));
	if (*out == NULL)
		return -1;
	bind_text(s, 1, case_id);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < (size_t)total)
		read_image(s, &(*out)[(*n)++]);
	finish(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_error("store: case %s: load images: %s", case_id, sqlite3_errmsg(cur->db));
		return -1;
	}
	return 0;
}

/* store_load inside the caller's transaction: the outbox builds its rows so. */
int
store_load_current(const char *case_id, struct job *job, struct image **images, size_t *n)
{
	sqlite3_stmt *s = stmt(S_JOB_SELECT);
	if (images != NULL) {
		*images = NULL;
		*n = 0;
	}
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	int rc = sqlite3_step(s), found = -1;
	if (rc == SQLITE_ROW) {
		read_job(s, job);
		found = 1;
	} else if (rc == SQLITE_DONE) {
		found = 0;
	} else {
		log_error("store: case %s: load job: %s", case_id, sqlite3_errmsg(cur->db));
	}
	finish(s);
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
	if (exec_pragma("BEGIN") != 0)
		return -1;
	int found = store_load_current(case_id, job, images, n);
	exec_pragma("COMMIT");
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
	}
	free(images);
}

/* Each job row of a stepped statement, to fn until it returns non-zero. */
static int
each_job_row(sqlite3_stmt *s, const char *what, int (*fn)(const struct job *, void *),
    void *arg)
{
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct job j;
		read_job(s, &j);
		int stop = fn(&j, arg);
		store_free(&j, NULL, 0);
		if (stop)
			break;
	}
	finish(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_error("store: %s: %s", what, sqlite3_errmsg(cur->db));
		return -1;
	}
	return 0;
}

int
store_each_job(int (*fn)(const struct job *, void *), void *arg)
{
	sqlite3_stmt *s = stmt(S_JOBS_ALL);
	return s == NULL ? -1 : each_job_row(s, "list jobs", fn, arg);
}

/*
 * Up to limit jobs older than the cursor (before_at, before_id), newest
 * first; of one status, unless status is NULL, where "queued" and "cancelled"
 * are the jobs jobjson_head marks so. fn returns non-zero to stop.
 */
int
store_each_recent_job(const char *status, int64_t before_at, const char *before_id,
    int limit, int (*fn)(const struct job *, void *), void *arg)
{
	enum stmt_id id = status == NULL ? S_LIST : strcmp(status, "queued") == 0 ?
	    S_LIST_QUEUED : strcmp(status, "cancelled") == 0 ? S_LIST_CANCELLED : S_LIST_STATUS;
	sqlite3_stmt *s = stmt(id);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, before_at);
	bind_text(s, 2, before_id);
	sqlite3_bind_int(s, 3, limit);
	if (id == S_LIST_STATUS)
		bind_text(s, 4, status);
	return each_job_row(s, "list recent jobs", fn, arg);
}

/*
 * Returns 1 if this process now owns the job, 0 if another has it or it is
 * done. The claim and its start update (the outbox's row) commit together.
 */
int
store_claim(const char *case_id, long pid, int64_t now)
{
	sqlite3_stmt *s = stmt(S_CLAIM);
	if (s == NULL || begin() != 0)
		return -1;
	bind_text(s, 1, case_id);
	sqlite3_bind_int64(s, 2, pid);
	sqlite3_bind_int64(s, 3, now);
	if (step_done(s, "claim job") != 0)
		goto fail;
	int claimed = sqlite3_changes(cur->db) == 1;
	if ((claimed && store_outbox_add(case_id, "start", now) < 0) || commit() != 0)
		goto fail;
	return claimed;
fail:
	rollback();
	return -1;
}

/* Returns 1 while pid still owns the job, 0 once it has been taken from it. */
int
store_heartbeat(const char *case_id, long pid, int64_t now)
{
	sqlite3_stmt *s = stmt(S_HEARTBEAT);
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	sqlite3_bind_int64(s, 2, pid);
	sqlite3_bind_int64(s, 3, now);
	if (step_done(s, "heartbeat") != 0)
		return -1;
	return sqlite3_changes(cur->db) == 1;
}

/*
 * Puts a job whose worker is gone back to pending, if that worker (old_pid,
 * 0 for none) still holds it: of two reapers, only one wins.
 */
int
store_release(const char *case_id, long old_pid, int64_t now)
{
	sqlite3_stmt *s = stmt(S_RELEASE);
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	if (old_pid > 0)
		sqlite3_bind_int64(s, 2, old_pid);
	sqlite3_bind_int64(s, 3, now);
	if (step_done(s, "release job") != 0)
		return -1;
	return sqlite3_changes(cur->db) == 1;
}

int
store_each_live_job(int (*fn)(const struct live_job *, void *), void *arg)
{
	sqlite3_stmt *s = stmt(S_LIVE_JOBS);
	if (s == NULL)
		return -1;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct live_job j;
		snprintf(j.case_id, sizeof(j.case_id), "%s", sqlite3_column_text(s, 0));
		snprintf(j.status, sizeof(j.status), "%s", sqlite3_column_text(s, 1));
		j.worker_pid = (long)sqlite3_column_int64(s, 2);
		j.heartbeat_at = sqlite3_column_int64(s, 3);
		j.updated_at = sqlite3_column_int64(s, 4);
		j.queued = sqlite3_column_int(s, 5);
		if (fn(&j, arg))
			break;
	}
	finish(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_error("store: list live jobs: %s", sqlite3_errmsg(cur->db));
		return -1;
	}
	return 0;
}

/* Returns 1 if this process is the one to run task now: at most once per interval. */
int
store_maintenance_due(const char *task, int64_t now, int64_t interval_ms)
{
	sqlite3_stmt *s = stmt(S_MAINTENANCE);
	if (s == NULL)
		return -1;
	bind_text(s, 1, task);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, interval_ms);
	if (step_done(s, "maintenance") != 0)
		return -1;
	return sqlite3_changes(cur->db) == 1;
}

int
store_image_started(const char *case_id, const char *item_id, const char *provider,
    const char *model, int64_t now)
{
	sqlite3_stmt *s = stmt(S_IMAGE_START);
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	bind_text(s, 2, item_id);
	sqlite3_bind_int64(s, 3, now);
	bind_text(s, 4, provider);
	bind_text(s, 5, model);
	return step_done(s, "image started");
}

static int
update_counters(const char *case_id, int64_t now)
{
	sqlite3_stmt *s = stmt(S_COUNTERS);
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	sqlite3_bind_int64(s, 2, now);
	return step_done(s, "update counters");
}

/*
 * An image row, the job's counters and the progress update that reports
 * them change in one transaction, so they always agree.
 */
static int
image_txn(sqlite3_stmt *s, const char *case_id, int64_t now, const char *what)
{
	if (step_done(s, what) != 0 || update_counters(case_id, now) != 0 ||
	    store_outbox_add(case_id, "progress", now) < 0 || commit() != 0) {
		rollback();
		return -1;
	}
	return 0;
}

/* A count or a time the caller may not have (-1): NULL in the row, not a number. */
void
store_bind_known(sqlite3_stmt *s, int i, long n)
{
	if (n >= 0)
		sqlite3_bind_int64(s, i, n);
	else
		sqlite3_bind_null(s, i);
}

/* api_ms: the image API's answer time, or -1 when there was no call. */
int
store_image_completed(const char *case_id, const char *item_id, const char *path,
    const char *url, long bytes, long api_ms, int64_t now)
{
	sqlite3_stmt *s = stmt(S_IMAGE_DONE);
	if (s == NULL || begin() != 0)
		return -1;
	bind_text(s, 1, case_id);
	bind_text(s, 2, item_id);
	bind_text(s, 3, path);
	bind_text(s, 4, url);
	sqlite3_bind_int64(s, 5, bytes);
	sqlite3_bind_int64(s, 6, now);
	store_bind_known(s, 7, api_ms);
	return image_txn(s, case_id, now, "image completed");
}

/*
 * An attempt a dead worker left 'generating' got no answer: it is taken
 * back from attempts, which retry_attempts limits, and counted apart.
 * Returns 1 when refunded, 0 when the image was not generating.
 */
int
store_image_interrupted(const char *case_id, const char *item_id)
{
	sqlite3_stmt *s = stmt(S_IMAGE_INTERRUPTED);
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	bind_text(s, 2, item_id);
	if (step_done(s, "image interrupted") != 0)
		return -1;
	return sqlite3_changes(cur->db) == 1;
}

/* Back to pending with the reason, until the backoff is over. */
int
store_image_retry(const char *case_id, const char *item_id, const char *error)
{
	sqlite3_stmt *s = stmt(S_IMAGE_RETRY);
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	bind_text(s, 2, item_id);
	bind_text(s, 3, error);
	return step_done(s, "image retry");
}

int
store_image_failed(const char *case_id, const char *item_id, const char *error,
    long api_ms, int64_t now)
{
	sqlite3_stmt *s = stmt(S_IMAGE_FAIL);
	if (s == NULL || begin() != 0)
		return -1;
	bind_text(s, 1, case_id);
	bind_text(s, 2, item_id);
	bind_text(s, 3, error);
	sqlite3_bind_int64(s, 4, now);
	store_bind_known(s, 5, api_ms);
	return image_txn(s, case_id, now, "image failed");
}

int
store_finish(const char *case_id, int64_t now, char status[12])
{
	sqlite3_stmt *s = stmt(S_FINISH);
	if (s == NULL || begin() != 0)
		return -1;
	bind_text(s, 1, case_id);
	sqlite3_bind_int64(s, 2, now);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(status, 12, "%s", sqlite3_column_text(s, 0));
	finish(s);
	if (rc != SQLITE_ROW || update_counters(case_id, now) != 0 ||
	    store_outbox_add(case_id, "final", now) < 0 || commit() != 0) {
		log_error("store: case %s: finish: %s", case_id, sqlite3_errmsg(cur->db));
		rollback();
		return -1;
	}
	return 0;
}

/* The job's status, inside the caller's transaction: 1 found, 0 not, -1 error. */
int
store_job_status(const char *case_id, char status[12])
{
	sqlite3_stmt *s = stmt(S_JOB_HASH);
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(status, 12, "%s", sqlite3_column_text(s, 1));
	finish(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
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
	sqlite3_stmt *imgs = stmt(S_RETRY_IMAGES), *job = stmt(S_RETRY_JOB);
	char status[12];
	enum store_retry rc = RETRY_ERROR;
	if (imgs == NULL || job == NULL || begin() != 0)
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
	bind_text(imgs, 1, case_id);
	if (step_done(imgs, "retry images") != 0)
		goto done;
	*n = sqlite3_changes(cur->db);
	if (*n == 0) {
		rc = RETRY_NOTHING;
		goto done;
	}
	bind_text(job, 1, case_id);
	sqlite3_bind_int64(job, 2, now);
	if (step_done(job, "retry job") != 0 || update_counters(case_id, now) != 0 ||
	    commit() != 0)
		goto done;
	return RETRY_STARTED;
done:
	rollback();
	return rc;
}

/* Asks the job's worker to stop. */
enum store_cancel
store_cancel(const char *case_id, int64_t now)
{
	sqlite3_stmt *s = stmt(S_CANCEL);
	char status[12];
	if (s == NULL || begin() != 0)
		return CANCEL_ERROR;
	bind_text(s, 1, case_id);
	sqlite3_bind_int64(s, 2, now);
	if (step_done(s, "cancel") != 0)
		goto fail;
	int changed = sqlite3_changes(cur->db);
	int found = changed ? 1 : store_job_status(case_id, status);
	if (found < 0 || commit() != 0)
		goto fail;
	return changed ? CANCEL_ASKED : found ? CANCEL_FINISHED : CANCEL_NOT_FOUND;
fail:
	rollback();
	return CANCEL_ERROR;
}

int
store_cancel_requested(const char *case_id)
{
	sqlite3_stmt *s = stmt(S_CANCEL_ASKED);
	if (s == NULL)
		return -1;
	bind_text(s, 1, case_id);
	int rc = sqlite3_step(s), asked = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	finish(s);
	return asked;
}

/* Deliveries still pending of jobs that have ended, in order within each case. */
int
store_pending_deliveries(struct delivery_row **rows, size_t *n, size_t max)
{
	sqlite3_stmt *s = stmt(S_DELIVERY_PENDING);
	*n = 0;
	if (s == NULL || (*rows = calloc(max + 1, sizeof(**rows))) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)max);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
		struct delivery_row *r = &(*rows)[(*n)++];
		r->id = sqlite3_column_int64(s, 0);
		snprintf(r->case_id, sizeof(r->case_id), "%s", sqlite3_column_text(s, 1));
		snprintf(r->event, sizeof(r->event), "%s", sqlite3_column_text(s, 2));
		r->url = column_strdup(s, 3);
		r->payload = column_strdup(s, 4);
		r->attempts = sqlite3_column_int(s, 5);
		r->next_attempt_at = sqlite3_column_int64(s, 6);
		r->worker_pid = (long)sqlite3_column_int64(s, 7);
		snprintf(r->job_status, sizeof(r->job_status), "%s", sqlite3_column_text(s, 8));
		snprintf(r->webhook_id, sizeof(r->webhook_id), "%s", sqlite3_column_text(s, 9));
	}
	finish(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_error("store: pending deliveries: %s", sqlite3_errmsg(cur->db));
		return -1;
	}
	return 0;
}

void
store_free_deliveries(struct delivery_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].url);
		free(rows[i].payload);
	}
	free(rows);
}

int
store_delivery_result(int64_t id, const char *status, int attempts, long code,
    const char *error, long latency_ms, int64_t next_at, int64_t now)
{
	sqlite3_stmt *s = stmt(S_DELIVERY_RESULT);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, status);
	sqlite3_bind_int(s, 3, attempts);
	if (code > 0)
		sqlite3_bind_int64(s, 4, code);
	bind_text(s, 5, error);
	sqlite3_bind_int64(s, 6, latency_ms);
	if (next_at > 0)
		sqlite3_bind_int64(s, 7, next_at);
	sqlite3_bind_int64(s, 8, now);
	return step_done(s, "delivery result");
}

static int
rate_count(const char *provider, int64_t since, int *count, int64_t *oldest)
{
	sqlite3_stmt *s = stmt(S_RATE_COUNT);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, since);
	bind_text(s, 2, provider);
	int rc = sqlite3_step(s);
	*count = sqlite3_column_int(s, 0);
	*oldest = sqlite3_column_int64(s, 1);
	finish(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * A sliding window over the last minute, shared by every worker on the host:
 * returns 1 and records the call if one more fits, else 0 with the time the
 * oldest call leaves the window in *retry_at. The window is a second longer
 * than a minute: a call reaches the API a little after it is counted here,
 * and by varying delays, so the API's own minute must still see no more.
 */
int
store_rate_take(const char *case_id, const char *provider, long per_minute, int64_t now,
    int64_t *retry_at)
{
	sqlite3_stmt *add = stmt(S_RATE_ADD), *prune = stmt(S_RATE_PRUNE);
	int count, granted = 0;
	int64_t oldest;
	if (add == NULL || prune == NULL || begin() != 0)
		return -1;
	sqlite3_bind_int64(prune, 1, now - RATE_WINDOW_MS);
	if (step_done(prune, "prune api calls") != 0 ||
	    rate_count(provider, now - RATE_WINDOW_MS, &count, &oldest) != 0)
		goto fail;
	if (count < per_minute) {
		sqlite3_bind_int64(add, 1, now);
		bind_text(add, 2, case_id);
		bind_text(add, 3, provider);
		if (step_done(add, "record api call") != 0)
			goto fail;
		granted = 1;
	} else {
		*retry_at = oldest + RATE_WINDOW_MS + 1;
	}
	if (commit() != 0)
		goto fail;
	return granted;
fail:
	rollback();
	return -1;
}

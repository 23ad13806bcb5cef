/* store.h: the job store, one SQLite database shared by every process. */
#ifndef IMAGEGEN_STORE_H
#define IMAGEGEN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "casereq.h"


struct job {
	char case_id[65];
	char status[12];
	char request_hash[65];
	int total, completed, failed, retry_count;
	char *last_error;
	char *webhook_url;
	long worker_pid;
	int64_t created_at, started_at, completed_at, updated_at, version;
	int64_t queued_at;	/* pending, waiting for a place under max_inflight; or 0 */
	int64_t cancelled_at;	/* when a cancel was asked, until a retry; or 0 */
};

struct image {
	char item_id[65];
	enum item_kind kind;
	int position;
	char *name;
	char *description;
	char status[12];
	int attempts;		/* answered or under way; retry_attempts limits them */
	int interrupted;	/* attempts a dead worker left without an answer */
	char *error;
	char *path;
	char *url;
	char *provider;		/* who made it, or last tried: NULL before the first attempt */
	char *model;
};

/* A job a worker should be running, for the reaper. */
struct live_job {
	char case_id[65];
	char status[12];
	long worker_pid;
	int64_t heartbeat_at;
	int64_t updated_at;
	int queued;		/* no worker started: max_inflight were at work */
};

/* A webhook delivery left pending by a worker that has ended, for the reaper. */
struct delivery_row {
	int64_t id;
	char case_id[65];
	char event[16];
	char *url;
	char *payload;
	int attempts;
	int64_t next_attempt_at;
	long worker_pid;
	char job_status[12];
	char webhook_id[100];	/* the webhook-id header: the case id and 64 random bits */
};

enum store_created { STORE_CREATED, STORE_EXISTS, STORE_CONFLICT };
enum store_retry { RETRY_ERROR = -1, RETRY_STARTED, RETRY_NOT_FOUND, RETRY_RUNNING,
	RETRY_NOTHING };
enum store_cancel { CANCEL_ERROR = -1, CANCEL_ASKED, CANCEL_NOT_FOUND, CANCEL_FINISHED };

struct sqlite3;
struct sqlite3_stmt;

int  store_open(const char *path);
int  store_open_reader(const char *path);
void store_use_reader(int on);
int  store_on_reader(void);
struct sqlite3_stmt *store_statement_here(struct sqlite3_stmt **slots, const char *text,
	const char *what);
int  store_note_error(struct sqlite3 *db);
struct sqlite3 *store_handle(void);
void store_bind_known(struct sqlite3_stmt *s, int i, long n);
struct sqlite3_stmt *store_statement(struct sqlite3_stmt **slot, const char *text,
	const char *what);
int  store_step(struct sqlite3_stmt *s, const char *what);
int  store_migrate(int *from, int *to);
int  store_check(void);
int  store_is_open(void);
int  store_check_schema(const char *path);
void store_close(void);

int  store_create(const struct case_req *req, int64_t now, char status[12]);
int  store_version(const char *case_id, int64_t *version, int64_t *created_at);
int  store_job_status(const char *case_id, char status[12]);
int  store_load(const char *case_id, struct job *job, struct image **images, size_t *n);
int  store_load_current(const char *case_id, struct job *job, struct image **images,
	size_t *n);
void store_free(struct job *job, struct image *images, size_t n);
int  store_each_job(int (*fn)(const struct job *, void *), void *arg);
int  store_each_recent_job(const char *status, int64_t before_at, const char *before_id,
	int limit, int (*fn)(const struct job *, void *), void *arg);

int  store_claim(const char *case_id, long pid, int64_t now);
int  store_heartbeat(const char *case_id, long pid, int64_t now);
int  store_release(const char *case_id, long old_pid, int64_t now);
int  store_each_live_job(int (*fn)(const struct live_job *, void *), void *arg);
int  store_maintenance_due(const char *task, int64_t now, int64_t interval_ms);
int  store_image_started(const char *case_id, const char *item_id, const char *provider,
	const char *model, int64_t now);
int  store_image_completed(const char *case_id, const char *item_id, const char *path,
	const char *url, long bytes, long api_ms, int64_t now);
int  store_image_retry(const char *case_id, const char *item_id, const char *error);
int  store_image_interrupted(const char *case_id, const char *item_id);
int  store_image_failed(const char *case_id, const char *item_id, const char *error,
	long api_ms, int64_t now);
int  store_finish(const char *case_id, int64_t now, char status[12]);

enum store_retry store_retry(const char *case_id, int64_t now, int *n);
enum store_cancel store_cancel(const char *case_id, int64_t now);
int  store_cancel_requested(const char *case_id);

int  store_pending_deliveries(struct delivery_row **rows, size_t *n, size_t max);
void store_free_deliveries(struct delivery_row *rows, size_t n);
int  store_delivery_result(int64_t id, const char *status, int attempts, long code,
	const char *error, long latency_ms, int64_t next_at, int64_t now);

int  store_rate_take(const char *case_id, const char *provider, long per_minute, int64_t now,
	int64_t *retry_at);


#endif

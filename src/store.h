/*
 * store.h: the job store, one database shared by every process: an SQLite
 * file, or a PostgreSQL server shared by several hosts. The domain's
 * functions, and nothing of either engine (store_int.h has that).
 */
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
	char host_id[65];	/* whose worker holds it, or "" */
	int64_t epoch;		/* one more at each claim (store_worker.h) */
	int64_t beat_at;	/* the last heartbeat, or -1 */
	int64_t lease_until;	/* past it, another host may take the job; or 0 */
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
	char *data;		/* image_urls = data: its data URL, kept by the worker */
};

/* A job a worker should be running, for the reaper. */
struct live_job {
	char case_id[65];
	char status[12];
	long worker_pid;
	int64_t heartbeat_at;
	int64_t updated_at;
	int queued;		/* no worker started: max_inflight were at work */
	char host_id[65];	/* the host whose worker holds it, or "" */
	int64_t epoch;
	int64_t lease_until;	/* past it, any host may resume the job; 0 for none */
	int64_t beat_at;	/* the heartbeat as read, -1 for none: a release needs it unchanged */
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
	char host_id[65];	/* the host of the job's last worker, or "" */
	char job_status[12];
	char webhook_id[100];	/* the webhook-id header: the case id and 64 random bits */
};

enum store_created { STORE_CREATED, STORE_EXISTS, STORE_CONFLICT };
enum store_retry { RETRY_ERROR = -1, RETRY_STARTED, RETRY_NOT_FOUND, RETRY_RUNNING,
	RETRY_NOTHING };
enum store_cancel { CANCEL_ERROR = -1, CANCEL_ASKED, CANCEL_NOT_FOUND, CANCEL_FINISHED };

struct store_slots;

int  store_is_uri(const char *database);
int  store_open(const char *database);
int  store_open_reader(const char *database);
void store_use_reader(int on);
int  store_shared_writer(void);
int  store_busy(void);
int  store_unreachable(void);
const char *store_unwritable(void);
void store_busy_reset(void);
int  store_copy(const char *path, int *pages);
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

int  store_release(const struct live_job *j, int64_t now);
int  store_each_live_job(int (*fn)(const struct live_job *, void *), void *arg);
int  store_maintenance_due(const char *task, int64_t now, int64_t interval_ms);
enum store_retry store_retry(const char *case_id, int64_t now, int *n);
enum store_cancel store_cancel(const char *case_id, int64_t now);
int  store_cancel_requested(const char *case_id);

int  store_pending_deliveries(struct delivery_row **rows, size_t *n, size_t max, int64_t now);
void store_free_deliveries(struct delivery_row *rows, size_t n);
int  store_delivery_result(int64_t id, const char *status, int attempts, long code,
	const char *error, long latency_ms, int64_t next_at, int64_t now);

int  store_rate_take(const char *case_id, const char *provider, long per_minute, int64_t now,
	int64_t *retry_at);
struct store_slots *store_slots_open(const char *database, const char *provider);
int  store_slot_take(struct store_slots *sl, int n, const unsigned char *held);
void store_slot_free(struct store_slots *sl, int slot);
void store_slots_close(struct store_slots *sl);


#endif

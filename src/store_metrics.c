/* store_metrics.c: the aggregate queries behind the metrics route, on the store's connection. */
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_metrics.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

const char *const metrics_job_status_names[MJ_COUNT] = {
	[MJ_PENDING] = "pending", [MJ_GENERATING] = "generating",
	[MJ_COMPLETED] = "completed", [MJ_PARTIAL] = "partial", [MJ_FAILED] = "failed",
};

const char *const metrics_delivery_status_names[MD_COUNT] = {
	[MD_DELIVERED] = "delivered", [MD_FAILED] = "failed", [MD_PENDING] = "pending",
};

/* Bucket bounds in ms, the unit of the database, so the comparisons stay integer. */
static const int64_t job_duration_ms[] = {
	5000, 10000, 30000, 60000, 120000, 300000, 600000 };
static const int64_t api_latency_ms[] = {
	250, 500, 1000, 2000, 5000, 10000, 30000, 60000 };
static const int64_t webhook_latency_ms[] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000 };

/*
 * One shape for every histogram: ?1..?8 are the bounds; a bound left
 * unbound is NULL, so a histogram with fewer buckets reads NULL there.
 */
#define HISTOGRAM(source) \
	"SELECT sum(x <= ?1), sum(x <= ?2), sum(x <= ?3), sum(x <= ?4)," \
	" sum(x <= ?5), sum(x <= ?6), sum(x <= ?7), sum(x <= ?8)," \
	" count(*), sum(x) FROM (" source ")"

enum query {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_JOBS, Q_IMAGES, Q_DELIVERIES, Q_STUCK, Q_QUEUED,
	Q_JOB_DURATION, Q_API_LATENCY, Q_WEBHOOK_LATENCY, Q_PROVIDERS, Q_MODELS, Q_MODEL_STATUS,
	Q_COUNT
};

static const struct { const char *what, *sql; } queries[Q_COUNT] = {
	/* A deferred BEGIN takes no write lock: a WAL snapshot for every query below. */
	[Q_BEGIN] = { "begin", "BEGIN" },
	[Q_COMMIT] = { "commit", "COMMIT" },
	[Q_ROLLBACK] = { "rollback", "ROLLBACK" },
	[Q_JOBS] = { "jobs by status",
	    "SELECT status, count(*) FROM jobs GROUP BY status" },
	/*
	 * Failures a retry or a report replaced count too (migration 8), so
	 * that the counters never fall. A retry takes the image's attempts
	 * and latency with it; a report leaves them on the image.
	 */
	[Q_IMAGES] = { "images by result",
	    "SELECT sum(c), sum(f), sum(r), sum(i) FROM ("
	    " SELECT status = 'completed' AS c, status = 'failed' AS f,"
	    "  max(attempts - 1, 0) AS r, interrupted AS i FROM images"
	    " UNION ALL SELECT 0, 1, iif(replaced_by = 'pending', max(attempts - 1, 0), 0), 0"
	    "  FROM past_failures)" },
	[Q_DELIVERIES] = { "webhook deliveries by status",
	    "SELECT status, count(*) FROM webhook_deliveries GROUP BY status" },
	[Q_STUCK] = { "stuck jobs",
	    "SELECT count(*) FROM jobs WHERE status = 'generating' AND started_at < ?1" },
	[Q_QUEUED] = { "queued jobs",
	    "SELECT count(*) FROM jobs WHERE status = 'pending' AND queued_at IS NOT NULL" },
	[Q_JOB_DURATION] = { "job duration", HISTOGRAM(
	    "SELECT completed_at - started_at AS x FROM jobs"
	    " WHERE status IN ('completed', 'partial', 'failed')"
	    " AND started_at IS NOT NULL AND completed_at IS NOT NULL"
	    " UNION ALL SELECT completed_at - started_at FROM past_runs"
	    " WHERE started_at IS NOT NULL AND completed_at IS NOT NULL") },
	[Q_API_LATENCY] = { "image API latency", HISTOGRAM(
	    "SELECT api_ms AS x FROM images WHERE api_ms IS NOT NULL"
	    " UNION ALL SELECT api_ms FROM past_failures"
	    " WHERE api_ms IS NOT NULL AND replaced_by = 'pending'") },
	[Q_WEBHOOK_LATENCY] = { "webhook latency", HISTOGRAM(
	    "SELECT latency_ms AS x FROM webhook_deliveries"
	    " WHERE status = 'delivered' AND latency_ms IS NOT NULL") },
	/* Failures a retry replaced count for the provider that failed them. */
	[Q_PROVIDERS] = { "images by provider",
	    "SELECT provider, sum(c), sum(f), sum(pt), sum(ot), sum(c AND ot IS NULL) FROM ("
	    " SELECT provider, status = 'completed' AS c, status = 'failed' AS f,"
	    "  prompt_tokens AS pt, output_tokens AS ot FROM images"
	    " UNION ALL SELECT provider, 0, 1, NULL, NULL FROM past_failures)"
	    " WHERE provider IS NOT NULL GROUP BY provider ORDER BY provider" },
	[Q_MODELS] = { "images by model",
	    "SELECT provider, model, sum(c), sum(f) FROM ("
	    " SELECT provider, model, status = 'completed' AS c, status = 'failed' AS f"
	    "  FROM images UNION ALL SELECT provider, model, 0, 1 FROM past_failures)"
	    " WHERE provider IS NOT NULL AND model IS NOT NULL"
	    " GROUP BY provider, model ORDER BY provider, model" },
	[Q_MODEL_STATUS] = { "models' retirement",
	    "SELECT provider, model, coalesce(retired_at, 0), coalesce(retires_at, 0)"
	    " FROM models ORDER BY provider, model" },
};

/* Each kept on the writer ([0]) and the reader ([1]): the route runs on either. */
static sqlite3_stmt *stmts[Q_COUNT][2];

typedef void row_fn(sqlite3_stmt *s, void *arg);

/* Prepared on first use and kept: a responder answers this route again and again. */
static sqlite3_stmt *
prepare(enum query id)
{
	return store_statement_here(stmts[id], queries[id].sql, queries[id].what);
}

/* Binds params to ?1.., hands each row to fn, and leaves the statement reset. */
static int
run(enum query id, const int64_t *params, size_t n, row_fn *fn, void *arg)
{
	sqlite3_stmt *s = prepare(id);
	int rc = SQLITE_OK;
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
		rc = sqlite3_bind_int64(s, (int)i + 1, params[i]);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			if (fn != NULL)
				fn(s, arg);
	if (rc != SQLITE_DONE) {
		store_note_error(sqlite3_db_handle(s));
		log_error("store_metrics: %s: %s", queries[id].what,
		    sqlite3_errmsg(sqlite3_db_handle(s)));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

struct tally {
	const char *const *names;
	size_t n;
	int64_t *counts;
};

/* A (status, count) row; a status outside the names (superseded) is left out. */
static void
tally_row(sqlite3_stmt *s, void *arg)
{
	struct tally *t = arg;
	const char *status = (const char *)sqlite3_column_text(s, 0);
	for (size_t i = 0; status != NULL && i < t->n; i++)
		if (strcmp(status, t->names[i]) == 0)
			t->counts[i] = sqlite3_column_int64(s, 1);
}

static void
images_row(sqlite3_stmt *s, void *arg)
{
	struct metrics_data *m = arg;
	m->images_completed = sqlite3_column_int64(s, 0);
	m->images_failed = sqlite3_column_int64(s, 1);
	m->retries = sqlite3_column_int64(s, 2);
	m->interrupted = sqlite3_column_int64(s, 3);
}

/* A name that is not a plain word (a hand-edited row) is left out of the labels. */
static void
provider_row(sqlite3_stmt *s, void *arg)
{
	struct metrics_data *m = arg;
	const char *name = (const char *)sqlite3_column_text(s, 0);
	if (m->n_providers == METRICS_MAX_PROVIDERS || name == NULL || *name == '\0' ||
	    strlen(name) >= sizeof(m->providers[0].name) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name))
		return;
	struct metrics_provider *p = &m->providers[m->n_providers++];
	strcpy(p->name, name);
	p->completed = sqlite3_column_int64(s, 1);
	p->failed = sqlite3_column_int64(s, 2);
	p->prompt_tokens = sqlite3_column_int64(s, 3);
	p->output_tokens = sqlite3_column_int64(s, 4);
	p->untokened = sqlite3_column_int64(s, 5);
}

static int
label_safe(const char *s, size_t max)
{
	return s != NULL && *s != '\0' && strlen(s) < max && strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == strlen(s);
}

const struct metrics_model *
metrics_find_model(const struct metrics_data *m, const char *provider, const char *model)
{
	for (size_t i = 0; i < m->n_models; i++)
		if (strcmp(m->models[i].provider, provider) == 0 &&
		    strcmp(m->models[i].model, model) == 0)
			return &m->models[i];
	return NULL;
}

/* The row's model, found or added; NULL for a name unfit for a label, or no room. */
static struct metrics_model *
model_of(struct metrics_data *m, sqlite3_stmt *s)
{
	const char *p = (const char *)sqlite3_column_text(s, 0);
	const char *name = (const char *)sqlite3_column_text(s, 1);
	if (!label_safe(p, sizeof(m->models[0].provider)) ||
	    !label_safe(name, sizeof(m->models[0].model)))
		return NULL;
	struct metrics_model *x = (struct metrics_model *)metrics_find_model(m, p, name);
	if (x != NULL || m->n_models == METRICS_MAX_MODELS)
		return x;
	x = &m->models[m->n_models++];
	strcpy(x->provider, p);
	strcpy(x->model, name);
	return x;
}

static void
model_row(sqlite3_stmt *s, void *arg)
{
	struct metrics_model *x = model_of(arg, s);
	if (x != NULL) {
		x->completed = sqlite3_column_int64(s, 2);
		x->failed = sqlite3_column_int64(s, 3);
	}
}

static void
model_status_row(sqlite3_stmt *s, void *arg)
{
	struct metrics_model *x = model_of(arg, s);
	if (x != NULL) {
		x->retired_at = sqlite3_column_int64(s, 2);
		x->retires_at = sqlite3_column_int64(s, 3);
	}
}

static void
count_row(sqlite3_stmt *s, void *arg)
{
	*(int64_t *)arg = sqlite3_column_int64(s, 0);
}

/* sum() over no rows is NULL, which reads as 0. */
static void
histogram_row(sqlite3_stmt *s, void *arg)
{
	struct metrics_histogram *h = arg;
	for (size_t i = 0; i < h->n; i++)
		h->bucket[i] = sqlite3_column_int64(s, (int)i);
	h->count = sqlite3_column_int64(s, METRICS_MAX_BUCKETS);
	h->sum_ms = sqlite3_column_int64(s, METRICS_MAX_BUCKETS + 1);
}

static int
read_histogram(enum query id, struct metrics_histogram *h, const int64_t *le, size_t n)
{
	h->n = n;
	memcpy(h->le_ms, le, n * sizeof(*le));
	return run(id, le, n, histogram_row, h);
}

static int
read_all(struct metrics_data *m, int64_t stuck_before)
{
	struct tally jobs = { metrics_job_status_names, MJ_COUNT, m->jobs };
	struct tally hooks = { metrics_delivery_status_names, MD_COUNT, m->deliveries };
	return run(Q_JOBS, NULL, 0, tally_row, &jobs) != 0 ||
	    run(Q_IMAGES, NULL, 0, images_row, m) != 0 ||
	    run(Q_DELIVERIES, NULL, 0, tally_row, &hooks) != 0 ||
	    run(Q_STUCK, &stuck_before, 1, count_row, &m->stuck_jobs) != 0 ||
	    run(Q_QUEUED, NULL, 0, count_row, &m->queued_jobs) != 0 ||
	    run(Q_PROVIDERS, NULL, 0, provider_row, m) != 0 ||
	    run(Q_MODELS, NULL, 0, model_row, m) != 0 ||
	    run(Q_MODEL_STATUS, NULL, 0, model_status_row, m) != 0 ||
	    read_histogram(Q_JOB_DURATION, &m->job_duration,
		job_duration_ms, N(job_duration_ms)) != 0 ||
	    read_histogram(Q_API_LATENCY, &m->api_latency,
		api_latency_ms, N(api_latency_ms)) != 0 ||
	    read_histogram(Q_WEBHOOK_LATENCY, &m->webhook_latency,
		webhook_latency_ms, N(webhook_latency_ms)) != 0 ? -1 : 0;
}

/*
 * Everything in one read transaction, so the figures agree with each other
 * even while workers write. A job is stuck once it has been generating for
 * more than stuck_after_s seconds.
 */
int
store_metrics_read(struct metrics_data *m, int64_t now_ms, long stuck_after_s)
{
	memset(m, 0, sizeof(*m));
	if (run(Q_BEGIN, NULL, 0, NULL, NULL) != 0)
		return -1;
	if (read_all(m, now_ms - (int64_t)stuck_after_s * 1000) != 0 ||
	    run(Q_COMMIT, NULL, 0, NULL, NULL) != 0) {
		/* SQLite may have ended the transaction itself; a second error would mislead. */
		if (!sqlite3_get_autocommit(sqlite3_db_handle(prepare(Q_BEGIN))))
			(void)run(Q_ROLLBACK, NULL, 0, NULL, NULL);
		return -1;
	}
	return 0;
}

void
store_metrics_close(void)
{
	for (int i = 0; i < Q_COUNT; i++) {
		sqlite3_finalize(stmts[i][0]);
		sqlite3_finalize(stmts[i][1]);
		stmts[i][0] = stmts[i][1] = NULL;
	}
}

/*
 * store_outbox.c: webhook_deliveries as an outbox (migration 12). A
 * worker's progress update is a row written inside the transaction of the
 * change it reports, before anything is sent: a worker killed after it
 * recorded a job completed leaves the final update here, and `imagegen
 * reap` sends it. The row supersedes the case's older pending rows, which
 * are then never sent: a receiver gets the latest state, and nothing older
 * after the final.
 *
 * With image_urls = data each update carries every picture made so far,
 * inline, as the reference design's receiver needs (it replaces its maps
 * with each update's): its row keeps their URLs, and their data goes in
 * as it is sent (jobjson_inline). Its writer then sends progress at each
 * quarter of the case only (worker.c), so that a case's webhooks do not
 * grow with the square of its size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_outbox.h"

/* Kept for the operator. */
static const char SUPERSEDE[] =
    "UPDATE webhook_deliveries SET status = 'superseded', next_attempt_at = NULL"
    " WHERE case_id = $1 AND status = 'pending'";
/* To the job's webhookUrl: a job without one gets no row. */
static const char ADD[] =
    "INSERT INTO webhook_deliveries (case_id, event, url, payload, created_at,"
    " next_attempt_at, webhook_id) SELECT $1, $2, webhook_url, $3, $4, $4, $5"
    " FROM jobs WHERE case_id = $1 AND webhook_url IS NOT NULL RETURNING id";
static const char NEWEST[] =
    "SELECT id, event, url, payload, attempts, coalesce(next_attempt_at, 0), webhook_id"
    " FROM webhook_deliveries WHERE case_id = $1 AND status = 'pending'"
    " ORDER BY id DESC LIMIT 1";
/* Those no host is sending: a lease run out is a host that died sending. */
static const char PENDING[] =
    "SELECT d.id, d.case_id, d.event, d.url, d.payload, d.attempts,"
    " coalesce(d.next_attempt_at, 0), coalesce(j.worker_pid, 0), j.status,"
    " coalesce(d.webhook_id, d.case_id || '-' || d.id), coalesce(j.host_id, '')"
    " FROM webhook_deliveries d JOIN jobs j USING (case_id)"
    " WHERE d.status = 'pending' AND j.status IN ('completed', 'partial', 'failed')"
    " AND (d.lease_until IS NULL OR d.lease_until < $2)"
    " ORDER BY d.case_id, d.id LIMIT $1";
/* The one host to send it, until the lease runs out; its own lease it renews. */
static const char LEASE[] =
    "UPDATE webhook_deliveries SET leased_by = $2,"
    " lease_until = CAST($3 AS BIGINT) + CAST($4 AS BIGINT)"
    " WHERE id = $1 AND status = 'pending'"
    " AND (lease_until IS NULL OR lease_until < $3 OR leased_by = $2)";
static const char ATTEMPT[] = "UPDATE webhook_deliveries SET attempts = $2 WHERE id = $1";
static const char RESULT[] =
    "UPDATE webhook_deliveries SET attempts = $3,"
    " status = CASE WHEN status = 'superseded' AND $2 <> 'delivered' THEN status"
    "   ELSE $2 END,"
    " response_code = $4, last_error = $5, latency_ms = $6,"
    " next_attempt_at = $7,"
    " delivered_at = CASE WHEN $2 = 'delivered' THEN CAST($8 AS BIGINT) END WHERE id = $1";

static int64_t last_added;

/* The id of the last row this process wrote: a sender's cue that there is news. */
int64_t
store_outbox_last(void)
{
	return last_added;
}

/* 64 random bits after the case: ids never repeat, whatever rows a deleted case took. */
static void
webhook_id(const char *case_id, char *out, size_t len)
{
	unsigned char r[8];
	arc4random_buf(r, sizeof(r));
	snprintf(out, len, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", case_id, r[0], r[1], r[2],
	    r[3], r[4], r[5], r[6], r[7]);
}

/*
 * Inside the caller's transaction, the update (event start, progress or
 * final) its writer rendered of the state this transaction commits: the
 * store reads no file and renders nothing while it holds the write. It
 * supersedes the case's older pending rows. Returns the row's id, 0 when
 * there is none to write (no payload, or the job has no webhookUrl), -1 on
 * a database error: the caller's transaction then fails with it.
 */
int64_t
store_outbox_add(const char *case_id, const char *event, const char *payload, int64_t now)
{
	struct sstmt *sup, *add;
	char wid[100];
	if (payload == NULL)
		return 0;
	if ((sup = store_stmt(SUPERSEDE)) == NULL || (add = store_stmt(ADD)) == NULL)
		return -1;
	sbind_text(sup, 1, case_id);
	if (store_exec_done(sup, "supersede deliveries") != 0)
		return -1;
	webhook_id(case_id, wid, sizeof(wid));
	sbind_text(add, 1, case_id);
	sbind_text(add, 2, event);
	sbind_text(add, 3, payload);
	sbind_int(add, 4, now);
	sbind_text(add, 5, wid);
	enum sstep rc = store_next(add, "add delivery");
	int64_t id = rc == SS_ROW ? scol_int(add, 0) : rc == SS_DONE ? 0 : -1;
	store_done(add);
	if (id > 0)
		last_added = id;
	return id;
}

/*
 * Takes the row for host to send, for lease_ms: 1 when it is this host's,
 * 0 when another host is sending it, -1 on error. Every host's reaper and
 * the case's own worker send rows: the lease keeps them from sending one
 * at once, and gives a row whose host died to the next.
 */
int
store_outbox_lease(int64_t id, const char *host, int64_t now, int64_t lease_ms)
{
	struct sstmt *s = store_stmt(LEASE);
	if (s == NULL)
		return -1;
	sbind_int(s, 1, id);
	sbind_text(s, 2, host);
	sbind_int(s, 3, now);
	sbind_int(s, 4, lease_ms);
	return store_exec_changed(s, "lease a delivery");
}

/*
 * An attempt is counted as it starts, not only once answered: a row its
 * worker died sending, then superseded, says it went (attempts > 0), and
 * the receiver may have it.
 */
int
store_outbox_attempt(int64_t id, int attempts)
{
	struct sstmt *s = store_stmt(ATTEMPT);
	if (s == NULL)
		return -1;
	sbind_int(s, 1, id);
	sbind_int(s, 2, attempts);
	return store_exec_done(s, "count a delivery attempt");
}

static int
read_row(struct sstmt *s, struct delivery_row *r, const char *case_id)
{
	r->id = scol_int(s, 0);
	snprintf(r->case_id, sizeof(r->case_id), "%s", case_id);
	scol_copy(s, 1, r->event, sizeof(r->event));
	r->url = strdup(scol_text(s, 2));
	r->payload = strdup(scol_text(s, 3));
	r->attempts = (int)scol_int(s, 4);
	r->next_attempt_at = scol_int(s, 5);
	scol_copy(s, 6, r->webhook_id, sizeof(r->webhook_id));
	if (r->url != NULL && r->payload != NULL)
		return 0;
	free(r->url);
	free(r->payload);
	r->url = r->payload = NULL;
	return -1;
}

/* The case's newest pending row, the one to send: 1, 0 for none, -1 on error. */
int
store_outbox_next(const char *case_id, struct delivery_row *r)
{
	struct sstmt *s = store_stmt(NEWEST);
	if (s == NULL)
		return -1;
	memset(r, 0, sizeof(*r));
	sbind_text(s, 1, case_id);
	enum sstep rc = store_next(s, "next delivery");
	int got = rc == SS_ROW ? (read_row(s, r, case_id) == 0 ? 1 : -1) :
	    rc == SS_DONE ? 0 : -1;
	store_done(s);
	return got;
}

/* Deliveries still pending of jobs that have ended, in order within each case. */
int
store_pending_deliveries(struct delivery_row **rows, size_t *n, size_t max, int64_t now)
{
	struct sstmt *s = store_stmt(PENDING);
	*n = 0;
	if (s == NULL || (*rows = calloc(max + 1, sizeof(**rows))) == NULL)
		return -1;
	sbind_int(s, 1, (int64_t)max);
	sbind_int(s, 2, now);
	enum sstep rc;
	while ((rc = store_next(s, "pending deliveries")) == SS_ROW && *n < max) {
		struct delivery_row *r = &(*rows)[(*n)++];
		r->id = scol_int(s, 0);
		scol_copy(s, 1, r->case_id, sizeof(r->case_id));
		scol_copy(s, 2, r->event, sizeof(r->event));
		r->url = scol_strdup(s, 3);
		r->payload = scol_strdup(s, 4);
		r->attempts = (int)scol_int(s, 5);
		r->next_attempt_at = scol_int(s, 6);
		r->worker_pid = (long)scol_int(s, 7);
		scol_copy(s, 8, r->job_status, sizeof(r->job_status));
		scol_copy(s, 9, r->webhook_id, sizeof(r->webhook_id));
		scol_copy(s, 10, r->host_id, sizeof(r->host_id));
	}
	store_done(s);
	return rc == SS_ERROR ? -1 : 0;
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
	struct sstmt *s = store_stmt(RESULT);
	if (s == NULL)
		return -1;
	sbind_int(s, 1, id);
	sbind_text(s, 2, status);
	sbind_int(s, 3, attempts);
	sbind_known(s, 4, code > 0 ? code : -1);
	sbind_text(s, 5, error);
	sbind_int(s, 6, latency_ms);
	sbind_known(s, 7, next_at > 0 ? next_at : -1);
	sbind_int(s, 8, now);
	return store_exec_done(s, "delivery result");
}

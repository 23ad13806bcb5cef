/*
 * store_outbox.c: webhook_deliveries as an outbox (migration 12). A
 * worker's progress update is a row written inside the transaction of the
 * change it reports, on the store's connection, before anything is sent:
 * a worker killed after it recorded a job completed leaves the final
 * update here, and `imagegen reap` sends it. The row supersedes the case's
 * older pending rows, which are then never sent: a receiver gets the
 * latest state, and nothing older after the final.
 *
 * With image_urls = data each update carries every picture made so far,
 * inline, as the reference design's receiver needs (it replaces its maps
 * with each update's): its row keeps their URLs, and their data goes in
 * as it is sent (jobjson_inline). So that a case's webhooks do not grow
 * with the square of its size, its progress then goes at each quarter of
 * the case (the reference design sent one a batch), between its start and
 * its final. A row that does hold pictures (a worker host's, handover.c)
 * keeps their URLs instead once delivered, failed or superseded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "config.h"
#include "handover.h"
#include "jobjson.h"
#include "log.h"
#include "store.h"
#include "store_outbox.h"

enum query { Q_SUPERSEDE, Q_ADD, Q_NEWEST, Q_TRIM, Q_ATTEMPT, Q_COUNT };

/* A map of the payload, its data: URLs each replaced by the image's own URL. */
#define TRIMMED_MAP(map) \
	"json(coalesce((SELECT json_group_object(m.key, CASE WHEN m.value LIKE 'data:%'" \
	" THEN coalesce((SELECT i.url FROM images i WHERE i.case_id = webhook_deliveries.case_id" \
	" AND i.item_id = m.key), 'data:') ELSE m.value END)" \
	" FROM json_each(payload, '$." map "') m), '{}'))"
#define TRIMMED "CASE WHEN instr(payload, '\"data:') > 0 THEN json_set(payload," \
	" '$.evidenceImages', " TRIMMED_MAP("evidenceImages") "," \
	" '$.locationImages', " TRIMMED_MAP("locationImages") ") ELSE payload END"

static const char *const sql[Q_COUNT] = {
	/* Kept for the operator, without the pictures' data (image_urls = data). */
	[Q_SUPERSEDE] =
	    "UPDATE webhook_deliveries SET status = 'superseded', next_attempt_at = NULL,"
	    " payload = " TRIMMED
	    " WHERE case_id = ?1 AND status = 'pending'",
	/* 64 random bits: ids never repeat, whatever rows a deleted case took with it. */
	[Q_ADD] =
	    "INSERT INTO webhook_deliveries (case_id, event, url, payload, created_at,"
	    " next_attempt_at, webhook_id)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?1 || '-' || lower(hex(randomblob(8))))",
	[Q_NEWEST] =
	    "SELECT id, event, url, payload, attempts, coalesce(next_attempt_at, 0), webhook_id"
	    " FROM webhook_deliveries WHERE case_id = ?1 AND status = 'pending'"
	    " ORDER BY id DESC LIMIT 1",
	[Q_TRIM] =
	    "UPDATE webhook_deliveries SET payload = " TRIMMED
	    " WHERE id = ?1 AND status IN ('delivered', 'failed')",
	[Q_ATTEMPT] = "UPDATE webhook_deliveries SET attempts = ?2 WHERE id = ?1",
};

static sqlite3_stmt *stmts[Q_COUNT];
static const struct config *outbox_cfg;	/* set by a worker: others write no rows */
static int64_t last_added;

static sqlite3_stmt *
query(enum query id)
{
	return store_statement(&stmts[id], sql[id], sql[id]);
}

/* This process writes rows from now on, built as cfg says (image_urls). */
void
store_outbox_use(const struct config *cfg)
{
	outbox_cfg = cfg;
}

/* The id of the last row this process wrote: a sender's cue that there is news. */
int64_t
store_outbox_last(void)
{
	return last_added;
}

static int64_t
insert(const char *case_id, const char *event, const char *url, const char *payload,
    int64_t now)
{
	sqlite3_stmt *sup = query(Q_SUPERSEDE), *add = query(Q_ADD);
	if (sup == NULL || add == NULL)
		return -1;
	sqlite3_bind_text(sup, 1, case_id, -1, SQLITE_STATIC);
	if (store_step(sup, "supersede deliveries") != 0)
		return -1;
	sqlite3_bind_text(add, 1, case_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 2, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 3, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 4, payload, -1, SQLITE_STATIC);
	sqlite3_bind_int64(add, 5, now);
	if (store_step(add, "add delivery") != 0)
		return -1;
	return last_added = sqlite3_last_insert_rowid(store_handle());
}

/*
 * Data mode's pace (above): a progress row only when this change, one
 * image more done, crosses a quarter of the case, and none for its last
 * image, which the final reports. A dispatched job's updates carry paths
 * (handover.c inlines each image once): they go as in path mode.
 */
static int
due_now(const char *event, const struct job *job)
{
	char id[100];
	int done = job->completed + job->failed;
	if (outbox_cfg->image_urls != URLS_DATA || strcmp(event, "progress") != 0 ||
	    handover_dispatched(outbox_cfg, job->case_id, id, sizeof(id)) != 0)
		return 1;
	return done > 0 && done < job->total &&
	    4 * done / job->total > 4 * (done - 1) / job->total;
}

/*
 * Inside the caller's transaction: the case's update (event start,
 * progress or final) as the store has it now. Returns the row's id, 0 when
 * there is none to write (no webhookUrl, not a worker, no payload, or not
 * due in data mode), -1 on a database error: the caller's transaction then
 * fails with it.
 */
int64_t
store_outbox_add(const char *case_id, const char *event, int64_t now)
{
	struct job job = { 0 };
	struct image *images;
	size_t n;
	if (outbox_cfg == NULL)
		return 0;
	/* The job's row first: without a webhookUrl, the images need not be read. */
	int found = store_load_current(case_id, &job, NULL, NULL);
	int hook = found == 1 && job.webhook_url != NULL && due_now(event, &job);
	store_free(&job, NULL, 0);
	if (found <= 0 || !hook)
		return found < 0 ? -1 : 0;
	if ((found = store_load_current(case_id, &job, &images, &n)) <= 0)
		return found < 0 ? -1 : 0;
	int64_t id = 0;
	/*
	 * An update that cannot be built (a data URL's file gone) is logged and
	 * left out: the change it reports still commits, and the next carries it.
	 */
	if (job.webhook_url != NULL) {
		char *payload = jobjson_progress(outbox_cfg, &job, images, n);
		if (payload == NULL)
			log_error("case %s: cannot build the %s webhook; not sent", case_id, event);
		else
			id = insert(case_id, event, job.webhook_url, payload, now);
		free(payload);
	}
	store_free(&job, images, n);
	return id;
}

/*
 * An attempt is counted as it starts, not only once answered: a row its
 * worker died sending, then superseded, says it went (attempts > 0), and
 * the receiver may have it.
 */
int
store_outbox_attempt(int64_t id, int attempts)
{
	sqlite3_stmt *s = query(Q_ATTEMPT);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, attempts);
	return store_step(s, "count a delivery attempt");
}

/* A row delivered or failed: its pictures' data goes, their URLs stay. */
int
store_outbox_trim(int64_t id)
{
	sqlite3_stmt *s = query(Q_TRIM);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	return store_step(s, "trim delivery");
}

/* The case's newest pending row, the one to send: 1, 0 for none, -1 on error. */
int
store_outbox_next(const char *case_id, struct delivery_row *r)
{
	sqlite3_stmt *s = query(Q_NEWEST);
	if (s == NULL)
		return -1;
	memset(r, 0, sizeof(*r));
	sqlite3_bind_text(s, 1, case_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		r->id = sqlite3_column_int64(s, 0);
		snprintf(r->case_id, sizeof(r->case_id), "%s", case_id);
		snprintf(r->event, sizeof(r->event), "%s", sqlite3_column_text(s, 1));
		r->url = strdup((const char *)sqlite3_column_text(s, 2));
		r->payload = strdup((const char *)sqlite3_column_text(s, 3));
		r->attempts = sqlite3_column_int(s, 4);
		r->next_attempt_at = sqlite3_column_int64(s, 5);
		snprintf(r->webhook_id, sizeof(r->webhook_id), "%s", sqlite3_column_text(s, 6));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_ROW && (r->url == NULL || r->payload == NULL)) {
		free(r->url);
		free(r->payload);
		return -1;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_error("store: case %s: next delivery: %s", case_id,
		    sqlite3_errmsg(store_handle()));
		return -1;
	}
	return rc == SQLITE_ROW;
}

void
store_outbox_close(void)
{
	for (int i = 0; i < Q_COUNT; i++) {
		sqlite3_finalize(stmts[i]);
		stmts[i] = NULL;
	}
}

/*
 * notify.c: sends a worker's ImageProgressUpdates, one in flight at a time.
 * The updates are rows of the outbox (store_outbox.c), written by the store
 * with the changes they report; here the case's newest pending row is
 * sent, so an update that waits is replaced by a newer one, never sent
 * after it. Progress rows go at most once per webhook_interval; start and
 * final at once. A failed attempt is retried with exponential backoff (1 s,
 * 2 s, 4 s, ...); none of it touches the job's outcome. What is still
 * undelivered when the worker ends stays pending in the table, and
 * `imagegen reap` goes on trying until the attempts run out. Every attempt
 * of one row carries the row's webhook-id, so that a receiver can drop
 * what it has already seen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "hookpost.h"
#include "jobjson.h"
#include "log.h"
#include "notify.h"
#include "ssrf.h"
#include "store.h"
#include "store_outbox.h"

#define BACKOFF_BASE_MS 1000

struct notify {
	const struct config *cfg;
	CURLM *multi;
	char *case_id;
	struct delivery_row row;	/* being sent or due next, when have_row */
	int have_row;
	int64_t seen;			/* the newest outbox row looked at */
	int64_t last_progress;		/* when an update was last sent */
	CURL *easy;			/* the attempt in flight, or NULL */
	struct curl_slist *headers;	/* of the attempt in flight */
	struct hookpost_answer answer;	/* of the attempt in flight */
	char *body;			/* its body, when not the row's payload */
	int64_t started;
};

/* The rows carry the URL: one written before a change of it still goes where it said. */
struct notify *
notify_new(const struct config *cfg, CURLM *multi, const char *case_id)
{
	struct notify *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->cfg = cfg;
	n->multi = multi;
	n->case_id = strdup(case_id);
	if (n->case_id == NULL) {
		notify_free(n);
		return NULL;
	}
	return n;
}

static void
drop_row(struct notify *n)
{
	free(n->row.url);
	free(n->row.payload);
	memset(&n->row, 0, sizeof(n->row));
	n->have_row = 0;
}

/* The store has written a newer row: it replaces the one that waited. */
static void
take_news(struct notify *n)
{
	int64_t last = store_outbox_last();
	if (last <= n->seen)
		return;
	drop_row(n);
	int found = store_outbox_next(n->case_id, &n->row);
	if (found < 0)
		return;		/* tried again on the next tick */
	n->have_row = found;
	n->seen = last;
}

/* When the row may go: after its backoff, and a progress row after webhook_interval. */
static int64_t
row_due(const struct notify *n)
{
	int64_t due = n->row.next_attempt_at;
	int64_t paced = n->last_progress + n->cfg->webhook_interval;
	if (strcmp(n->row.event, "progress") == 0 && paced > due)
		due = paced;
	return due;
}

int
notify_owns(const struct notify *n, CURL *easy)
{
	return n != NULL && easy != NULL && n->easy == easy;
}

/*
 * How long a host holds a row it sends: an attempt's longest, and a margin.
 * A host that dies sending it leaves it to another's reaper after that.
 */
int64_t
notify_lease_ms(const struct config *cfg)
{
	return (cfg->webhook_timeout + 10) * 1000;
}

/* One attempt's easy handle, shared by the worker's event loop and the reaper. */
static CURL *
delivery_easy(const struct config *cfg, const char *url, const char *wid,
    const char *payload, struct hookpost_answer *ans, struct curl_slist **headers)
{
	CURL *e = hookpost_easy(cfg, url, cfg->webhook_secret, wid, payload, ans, headers);
	if (e != NULL && ssrf_guard(e, cfg) != 0) {
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

/*
 * What an attempt sends of the row's payload: with image_urls = data, the
 * pictures inline, read now (jobjson.c). *body is NULL when it is the
 * payload itself; -1 when it cannot be made.
 */
static int
outgoing(const struct config *cfg, const char *case_id, char **payload, char **body)
{
	*body = NULL;
	if (cfg->image_urls != URLS_DATA)
		return 0;
	*body = jobjson_inline(cfg, case_id, *payload);
	return *body != NULL ? 0 : -1;
}

static void
end_attempt(struct notify *n)
{
	if (n->easy != NULL) {
		curl_multi_remove_handle(n->multi, n->easy);
		curl_easy_cleanup(n->easy);
	}
	curl_slist_free_all(n->headers);
	free(n->body);
	n->easy = NULL;
	n->headers = NULL;
	n->body = NULL;
}

/* A picture the update should carry is gone: no attempt can send it. */
static void
give_up(const char *case_id, int64_t id, const char *event, int attempts, int64_t now)
{
	static const char why[] = "a picture's file cannot be read";
	log_warn("case %s: webhook %s given up: %s", case_id, event, why);
	store_delivery_result(id, "failed", attempts, 0, why, 0, 0, now);
}

/* 0 when the attempt is under way or the row given up, -1 to try again soon. */
static int
start_attempt(struct notify *n, int64_t now)
{
	int mine = store_outbox_lease(n->row.id, n->cfg->host, now, notify_lease_ms(n->cfg));
	if (mine != 1) {
		/* Another host is sending it (or the database is away): look again later. */
		n->row.next_attempt_at = now + BACKOFF_BASE_MS;
		return mine == 0 ? 0 : -1;
	}
	if (outgoing(n->cfg, n->case_id, &n->row.payload, &n->body) != 0) {
		give_up(n->case_id, n->row.id, n->row.event, n->row.attempts, now);
		drop_row(n);
		return 0;
	}
	CURL *e = delivery_easy(n->cfg, n->row.url, n->row.webhook_id,
	    n->body ? n->body : n->row.payload, &n->answer, &n->headers);
	if (e == NULL || curl_multi_add_handle(n->multi, e) != CURLM_OK) {
		if (e != NULL)
			curl_easy_cleanup(e);
		end_attempt(n);
		return -1;
	}
	n->easy = e;
	n->started = now;
	n->row.attempts++;
	n->last_progress = now;
	(void)store_outbox_attempt(n->row.id, n->row.attempts);
	log_debug("case %s: webhook %s %s: attempt %d", n->case_id, n->row.event,
	    n->row.webhook_id, n->row.attempts);
	return 0;
}

/*
 * Just before an attempt: is the row still the case's newest pending one?
 * A worker thought dead, and replaced, must not send what its successor
 * has superseded. Returns 1 to go on; 0 when the row changed or went, to
 * look again. A failed read lets the attempt go: the row was pending.
 */
static int
still_newest(struct notify *n)
{
	struct delivery_row r;
	int found = store_outbox_next(n->case_id, &r);
	if (found < 0 || (found == 1 && r.id == n->row.id)) {
		if (found == 1) {
			free(r.url);
			free(r.payload);
		}
		return 1;
	}
	drop_row(n);
	if (found == 1) {
		n->row = r;
		n->have_row = 1;
	}
	return 0;
}

void
notify_tick(struct notify *n, int64_t now)
{
	if (n == NULL || n->easy != NULL)
		return;
	take_news(n);
	if (!n->have_row || row_due(n) > now)
		return;
	if (!still_newest(n) && (!n->have_row || row_due(n) > now))
		return;
	if (start_attempt(n, now) != 0) {
		log_error("case %s: webhook %s: cannot start a transfer", n->case_id, n->row.event);
		n->row.next_attempt_at = now + BACKOFF_BASE_MS;
	}
}

/* The wait before the next attempt: doubling from BACKOFF_BASE_MS. */
static int64_t
retry_delay(int attempts)
{
	return (int64_t)BACKOFF_BASE_MS << (attempts > 20 ? 19 : attempts - 1);
}

/*
 * The verdict on one attempt, shared with the reaper: the row's new status
 * and, for a retry, when. Returns 1 when delivered.
 */
static int
judge(const struct config *cfg, const char *case_id, const char *event, int attempts,
    CURLcode rc, long code, long latency, int64_t id, int64_t now)
{
	char error[CURL_ERROR_SIZE + 32];
	if (rc == CURLE_OK && code >= 200 && code < 300) {
		log_info("case %s: webhook %s delivered (HTTP %ld, %ld ms)", case_id, event,
		    code, latency);
		store_delivery_result(id, "delivered", attempts, code, NULL, latency, 0, now);
		return 1;
	}
	if (rc != CURLE_OK)
		snprintf(error, sizeof(error), "%s", curl_easy_strerror(rc));
	else
		snprintf(error, sizeof(error), "HTTP %ld", code);
	int64_t delay = retry_delay(attempts);
	if (attempts > cfg->webhook_retries) {
		log_warn("case %s: webhook %s failed after %d attempts: %s", case_id, event,
		    attempts, error);
		store_delivery_result(id, "failed", attempts, code, error, latency, 0, now);
		return 0;
	}
	int64_t due = now + delay;
	log_warn("case %s: webhook %s attempt %d failed: %s; retrying", case_id, event,
	    attempts, error);
	store_delivery_result(id, "pending", attempts, code, error, latency, due, now);
	return 0;
}

void
notify_done(struct notify *n, CURLcode rc, int64_t now)
{
	long code = 0, latency = (long)(now - n->started);

	rc = hookpost_result(rc, &n->answer);
	curl_easy_getinfo(n->easy, CURLINFO_RESPONSE_CODE, &code);
	end_attempt(n);
	int64_t delay = retry_delay(n->row.attempts);
	if (judge(n->cfg, n->case_id, n->row.event, n->row.attempts, rc, code, latency,
	    n->row.id, now) || n->row.attempts > n->cfg->webhook_retries) {
		drop_row(n);
		return;
	}
	n->row.next_attempt_at = now + delay;
}

/* Sends one pending delivery row now, for the reaper. Returns 1 when delivered. */
int
notify_redeliver(const struct config *cfg, const struct delivery_row *r, int64_t now)
{
	struct curl_slist *headers = NULL;
	struct hookpost_answer answer;
	long code = 0;
	char *payload = strdup(r->payload), *body = NULL;
	int made = payload != NULL && outgoing(cfg, r->case_id, &payload, &body) == 0;
	CURL *e = made ? delivery_easy(cfg, r->url, r->webhook_id, body ? body : payload,
	    &answer, &headers) : NULL;
	if (payload != NULL && !made)
		give_up(r->case_id, r->id, r->event, r->attempts, now);
	if (e == NULL) {
		curl_slist_free_all(headers);
		free(payload);
		free(body);
		return 0;
	}
	log_debug("case %s: webhook %s %s: attempt %d", r->case_id, r->event, r->webhook_id,
	    r->attempts + 1);
	(void)store_outbox_attempt(r->id, r->attempts + 1);
	CURLcode rc = hookpost_result(curl_easy_perform(e), &answer);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	curl_slist_free_all(headers);
	free(body);
	free(payload);
	return judge(cfg, r->case_id, r->event, r->attempts + 1, rc, code,
	    (long)(codec_now_ms() - now), r->id, codec_now_ms());
}

/* When the loop must wake for a delivery that waits; -1 if none. */
int64_t
notify_next_due(const struct notify *n)
{
	if (n == NULL || !n->have_row || n->easy != NULL)
		return -1;
	return row_due(n);
}

int
notify_idle(const struct notify *n)
{
	return n == NULL || (!n->have_row && n->easy == NULL && store_outbox_last() <= n->seen);
}

/*
 * The worker is ending: an attempt in flight is dropped; every row, sent
 * or not, is in the table already with its attempts, for the reaper.
 */
void
notify_persist(struct notify *n, int64_t now)
{
	(void)now;
	if (n != NULL)
		end_attempt(n);
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	notify_persist(n, codec_now_ms());
	drop_row(n);
	free(n->case_id);
	free(n);
}

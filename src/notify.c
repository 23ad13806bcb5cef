/*
 * notify.c: ImageProgressUpdate deliveries, one in flight at a time and in
 * order, each a row in webhook_deliveries. A failed attempt is retried with
 * exponential backoff (1 s, 2 s, 4 s, ...); none of it touches the job's outcome.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "store.h"

#define BACKOFF_BASE_MS 1000

struct delivery {
	struct delivery *next;
	int64_t id;		/* row in webhook_deliveries, 0 until the first attempt */
	char event[16];
	char *payload;
	int attempts;
	int64_t due;
};

struct notify {
	const struct config *cfg;
	CURLM *multi;
	char *case_id;
	char *url;
	struct delivery *head, *tail;	/* head is the one being sent or due next */
	CURL *easy;			/* the attempt in flight, or NULL */
	struct curl_slist *headers;
	int64_t started;
};

struct notify *
notify_new(const struct config *cfg, CURLM *multi, const char *case_id, const char *url)
{
	struct notify *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->cfg = cfg;
	n->multi = multi;
	n->case_id = strdup(case_id);
	n->url = strdup(url);
	n->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (n->case_id == NULL || n->url == NULL || n->headers == NULL) {
		notify_free(n);
		return NULL;
	}
	return n;
}

/*
 * A progress update still waiting behind another is replaced by a newer
 * one: the receiver wants the latest state, not every step of it.
 */
void
notify_post(struct notify *n, const char *event, char *payload, int64_t now)
{
	struct delivery *t = n->tail;
	if (t != NULL && t != n->head && t->attempts == 0 &&
	    strcmp(t->event, "progress") == 0 && strcmp(event, "final") != 0) {
		free(t->payload);
		t->payload = payload;
		snprintf(t->event, sizeof(t->event), "%s", event);
		return;
	}
	struct delivery *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		log_error("case %s: webhook %s dropped: out of memory", n->case_id, event);
		free(payload);
		return;
	}
	snprintf(d->event, sizeof(d->event), "%s", event);
	d->payload = payload;
	d->due = now;
	if (n->tail != NULL)
		n->tail->next = d;
	else
		n->head = d;
	n->tail = d;
}

int
notify_owns(const struct notify *n, CURL *easy)
{
	return n != NULL && easy != NULL && n->easy == easy;
}

static int
start_attempt(struct notify *n, struct delivery *d, int64_t now)
{
	CURL *e = curl_easy_init();
	if (e == NULL)
		return -1;
	if (curl_easy_setopt(e, CURLOPT_URL, n->url) ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, n->headers) ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->payload) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT, n->cfg->webhook_timeout) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, n->cfg->connect_timeout) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "imagegen/" PACKAGE_VERSION) ||
	    curl_multi_add_handle(n->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		return -1;
	}
	n->easy = e;
	n->started = now;
	d->attempts++;
	return 0;
}

void
notify_tick(struct notify *n, int64_t now)
{
	struct delivery *d = n ? n->head : NULL;
	if (d == NULL || n->easy != NULL || d->due > now)
		return;
	if (d->id == 0)
		d->id = store_delivery_add(n->case_id, d->event, n->url, d->payload, now);
	if (start_attempt(n, d, now) != 0) {
		log_error("case %s: webhook %s: cannot start a transfer", n->case_id, d->event);
		d->due = now + BACKOFF_BASE_MS;
	}
}

static void
pop(struct notify *n)
{
	struct delivery *d = n->head;
	n->head = d->next;
	if (n->head == NULL)
		n->tail = NULL;
	free(d->payload);
	free(d);
}

static void
record(struct notify *n, struct delivery *d, const char *status, long code,
    const char *error, long latency, int64_t next_at, int64_t now)
{
	if (d->id > 0 && store_delivery_result(d->id, status, d->attempts, code, error,
	    latency, next_at, now) != 0)
		log_error("case %s: webhook %s: cannot record the attempt", n->case_id, d->event);
}

void
notify_done(struct notify *n, CURLcode rc, int64_t now)
{
	struct delivery *d = n->head;
	long code = 0, latency = (long)(now - n->started);
	char error[CURL_ERROR_SIZE + 32] = "";

	curl_easy_getinfo(n->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(n->multi, n->easy);
	curl_easy_cleanup(n->easy);
	n->easy = NULL;
	if (rc == CURLE_OK && code >= 200 && code < 300) {
		log_info("case %s: webhook %s delivered (HTTP %ld, %ld ms)", n->case_id,
		    d->event, code, latency);
		record(n, d, "delivered", code, NULL, latency, 0, now);
		pop(n);
		return;
	}
	if (rc != CURLE_OK)
		snprintf(error, sizeof(error), "%s", curl_easy_strerror(rc));
	else
		snprintf(error, sizeof(error), "HTTP %ld", code);
	if (d->attempts > n->cfg->webhook_retries) {
		log_warn("case %s: webhook %s failed after %d attempts: %s", n->case_id,
		    d->event, d->attempts, error);
		record(n, d, "failed", code, error, latency, 0, now);
		pop(n);
		return;
	}
	d->due = now + ((int64_t)BACKOFF_BASE_MS << (d->attempts - 1));
	log_warn("case %s: webhook %s attempt %d failed: %s; retrying", n->case_id,
	    d->event, d->attempts, error);
	record(n, d, "pending", code, error, latency, d->due, now);
}

/* When the loop must wake for a delivery that waits on its backoff; -1 if none. */
int64_t
notify_next_due(const struct notify *n)
{
	if (n == NULL || n->head == NULL || n->easy != NULL)
		return -1;
	return n->head->due;
}

int
notify_idle(const struct notify *n)
{
	return n == NULL || n->head == NULL;
}

/* The worker must end some time: what is still queued is recorded as failed. */
void
notify_abandon(struct notify *n, int64_t now)
{
	if (n == NULL)
		return;
	if (n->easy != NULL) {
		curl_multi_remove_handle(n->multi, n->easy);
		curl_easy_cleanup(n->easy);
		n->easy = NULL;
	}
	while (n->head != NULL) {
		struct delivery *d = n->head;
		if (d->id == 0)
			d->id = store_delivery_add(n->case_id, d->event, n->url, d->payload, now);
		record(n, d, "failed", 0, "worker exiting", 0, 0, now);
		pop(n);
	}
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	notify_abandon(n, codec_now_ms());
	curl_slist_free_all(n->headers);
	free(n->case_id);
	free(n->url);
	free(n);
}

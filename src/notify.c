/*
 * notify.c: ImageProgressUpdate deliveries, one in flight at a time and in
 * order, each a row in webhook_deliveries. A failed attempt is retried with
 * exponential backoff (1 s, 2 s, 4 s, ...); none of it touches the job's
 * outcome. What is still undelivered when the worker ends stays pending in
 * the table, and `imagegen reap` goes on trying until the attempts run out.
 * Every attempt of one delivery carries the same webhook-id, so that a
 * receiver can drop what it has already seen.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "codec.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "sign.h"
#include "ssrf.h"
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
	struct curl_slist *headers;	/* of the attempt in flight */
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
	if (n->case_id == NULL || n->url == NULL) {
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

/* The stable id of a delivery: the same for every attempt, from any process. */
static void
delivery_id(const char *case_id, int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%" PRId64, case_id, id);
}

static struct curl_slist *
append(struct curl_slist *list, const char *line)
{
	struct curl_slist *l = curl_slist_append(list, line);
	if (l == NULL)
		curl_slist_free_all(list);
	return l;
}

/*
 * Standard Webhooks 1.0 headers: webhook-id always; with a webhook_secret,
 * webhook-timestamp and webhook-signature, signed afresh for each attempt.
 */
static struct curl_slist *
delivery_headers(const struct config *cfg, const char *wid, const char *payload)
{
	char line[160], sig[SIGN_B64_LEN];
	unsigned char key[SIGN_KEY_MAX];
	size_t keylen;
	long long ts = (long long)(codec_now_ms() / 1000);
	struct curl_slist *h = append(NULL, "Content-Type: application/json");
	snprintf(line, sizeof(line), "webhook-id: %s", wid);
	h = h ? append(h, line) : NULL;
	if (h == NULL || *cfg->webhook_secret == '\0')
		return h;
	if (sign_secret(cfg->webhook_secret, key, &keylen) != 0 ||
	    sign_compute(key, keylen, wid, ts, payload, strlen(payload), sig) != 0) {
		OPENSSL_cleanse(key, sizeof(key));
		log_error("webhook %s: cannot sign", wid);
		curl_slist_free_all(h);
		return NULL;
	}
	OPENSSL_cleanse(key, sizeof(key));
	snprintf(line, sizeof(line), "webhook-timestamp: %lld", ts);
	h = append(h, line);
	snprintf(line, sizeof(line), "webhook-signature: v1,%s", sig);
	return h ? append(h, line) : NULL;
}

/* One attempt's easy handle: shared by the worker's event loop and the reaper. */
static CURL *
delivery_easy(const struct config *cfg, const char *url, const char *case_id, int64_t id,
    const char *payload, struct curl_slist **headers)
{
	char wid[100];
	delivery_id(case_id, id, wid, sizeof(wid));
	*headers = delivery_headers(cfg, wid, payload);
	CURL *e = *headers ? curl_easy_init() : NULL;
	if (e == NULL)
		return NULL;
	if (curl_easy_setopt(e, CURLOPT_URL, url) ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, *headers) ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, payload) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT, cfg->webhook_timeout) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, cfg->connect_timeout) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "imagegen/" PACKAGE_VERSION) ||
	    ssrf_guard(e, cfg) != 0) {
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

static int
start_attempt(struct notify *n, struct delivery *d, int64_t now)
{
	CURL *e = delivery_easy(n->cfg, n->url, n->case_id, d->id, d->payload, &n->headers);
	if (e == NULL || curl_multi_add_handle(n->multi, e) != CURLM_OK) {
		if (e != NULL)
			curl_easy_cleanup(e);
		curl_slist_free_all(n->headers);
		n->headers = NULL;
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
	if (attempts > cfg->webhook_retries) {
		log_warn("case %s: webhook %s failed after %d attempts: %s", case_id, event,
		    attempts, error);
		store_delivery_result(id, "failed", attempts, code, error, latency, 0, now);
		return 0;
	}
	int64_t due = now + ((int64_t)BACKOFF_BASE_MS << (attempts - 1));
	log_warn("case %s: webhook %s attempt %d failed: %s; retrying", case_id, event,
	    attempts, error);
	store_delivery_result(id, "pending", attempts, code, error, latency, due, now);
	return 0;
}

void
notify_done(struct notify *n, CURLcode rc, int64_t now)
{
	struct delivery *d = n->head;
	long code = 0, latency = (long)(now - n->started);

	curl_easy_getinfo(n->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(n->multi, n->easy);
	curl_easy_cleanup(n->easy);
	curl_slist_free_all(n->headers);
	n->easy = NULL;
	n->headers = NULL;
	if (judge(n->cfg, n->case_id, d->event, d->attempts, rc, code, latency, d->id, now) ||
	    d->attempts > n->cfg->webhook_retries) {
		pop(n);
		return;
	}
	d->due = now + ((int64_t)BACKOFF_BASE_MS << (d->attempts - 1));
}

/* Sends one pending delivery row now, for the reaper. Returns 1 when delivered. */
int
notify_redeliver(const struct config *cfg, const struct delivery_row *r, int64_t now)
{
	struct curl_slist *headers = NULL;
	long code = 0;
	CURL *e = delivery_easy(cfg, r->url, r->case_id, r->id, r->payload, &headers);
	if (e == NULL) {
		curl_slist_free_all(headers);
		return 0;
	}
	CURLcode rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	curl_slist_free_all(headers);
	return judge(cfg, r->case_id, r->event, r->attempts + 1, rc, code,
	    (long)(codec_now_ms() - now), r->id, codec_now_ms());
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

/*
 * The worker is ending: what it could not deliver stays pending in the
 * table, each row with its attempts and next attempt time, for the reaper.
 */
void
notify_persist(struct notify *n, int64_t now)
{
	if (n == NULL)
		return;
	if (n->easy != NULL) {
		curl_multi_remove_handle(n->multi, n->easy);
		curl_easy_cleanup(n->easy);
		curl_slist_free_all(n->headers);
		n->easy = NULL;
		n->headers = NULL;
	}
	while (n->head != NULL) {
		struct delivery *d = n->head;
		if (d->id == 0)
			d->id = store_delivery_add(n->case_id, d->event, n->url, d->payload, now);
		if (d->id > 0)
			store_delivery_result(d->id, "pending", d->attempts, 0,
			    d->attempts ? "left to imagegen reap" : NULL, 0,
			    d->due > now ? d->due : now, now);
		pop(n);
	}
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	notify_persist(n, codec_now_ms());
	free(n->case_id);
	free(n->url);
	free(n);
}

/*
 * dispatch.c: a state host (dispatch_url set) records each job and, instead
 * of forking a local worker, POSTs it to the nginx upstream of worker hosts,
 * signed with dispatch_secret (Standard Webhooks 1.0). Each dispatch has an
 * id of its own; the worker host's updates carry it, and only the current
 * one's are applied. A dispatch that is not taken (no answer, 502/503
 * when every worker host is down or refuses) leaves the job queued for the
 * reaper, with backoff; one silent for stale_after is dispatched again,
 * under a new id, with the images still to make.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "casereq.h"
#include "codec.h"
#include "config.h"
#include "dispatch.h"
#include "hookpost.h"
#include "log.h"
#include "progress.h"
#include "spawn.h"
#include "store.h"
#include "store_dispatch.h"

#define LEASE_MS 60000	/* a dispatch being sent is no other sender's for this long */

static int
add_item(cJSON *list, const struct image *im)
{
	cJSON *o = cJSON_CreateObject();
	if (o == NULL || !cJSON_AddItemToArray(list, o))
		return cJSON_Delete(o), -1;
	return cJSON_AddStringToObject(o, "id", im->item_id) &&
	    cJSON_AddStringToObject(o, "name", im->name) &&
	    cJSON_AddStringToObject(o, "description", im->description) ? 0 : -1;
}

/* The job as a worker host takes it: a generate request for the images still to make. */
static char *
dispatch_body(const struct config *cfg, const char *case_id, const char *id)
{
	struct job job;
	struct image *images;
	size_t n;
	if (store_load(case_id, &job, &images, &n) != 1)
		return NULL;
	cJSON *o = cJSON_CreateObject();
	cJSON *lists[2] = { cJSON_AddArrayToObject(o, "evidence"),
	    cJSON_AddArrayToObject(o, "locations") };
	int ok = o != NULL && lists[0] != NULL && lists[1] != NULL &&
	    cJSON_AddStringToObject(o, "dispatchId", id) &&
	    cJSON_AddStringToObject(o, "caseId", case_id) &&
	    cJSON_AddStringToObject(o, "webhookUrl", cfg->callback_url) &&
	    cJSON_AddNumberToObject(o, "deadline",
	        (double)(codec_now_ms() + cfg->job_deadline * 1000)) &&
	    cJSON_AddNumberToObject(o, "imageSize", (double)cfg->image_size);
	size_t left = 0;
	for (size_t i = 0; ok && i < n; i++)
		if (strcmp(images[i].status, "completed") != 0 &&
		    strcmp(images[i].status, "failed") != 0) {
			ok = add_item(lists[images[i].kind], &images[i]) == 0;
			left++;
		}
	char *text = ok && left > 0 ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	store_free(&job, images, n);
	return text;
}

/*
 * The worker host that took the dispatch, from its answer: its heartbeats
 * then vouch for the job while it waits in that host's queue. "" when the
 * answer does not name one fit to keep (1-255 printable ASCII).
 */
static void
taken_by(const struct hookpost_answer *a, char host[256])
{
	cJSON *o = cJSON_ParseWithLength(a->start, a->len);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "workerHost");
	const char *h = cJSON_IsString(v) ? v->valuestring : "";
	size_t n = strlen(h), i = 0;
	while (i < n && h[i] > ' ' && h[i] < 0x7f)
		i++;
	snprintf(host, 256, "%s", n > 0 && n < 256 && i == n ? h : "");
	cJSON_Delete(o);
}

/* One POST to the upstream: the HTTP status, or 0 with why when there was none. */
static long
post(const struct config *cfg, const char *wid, const char *body,
    struct hookpost_answer *ans, char *why, size_t len)
{
	long code = 0;
	struct curl_slist *h = NULL;
	CURL *e = hookpost_easy(cfg, cfg->dispatch_url, cfg->dispatch_secret, wid, body, ans,
	    &h);
	CURLcode rc = e ? hookpost_result(curl_easy_perform(e), ans) : CURLE_FAILED_INIT;
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK)
		snprintf(why, len, "HTTP %ld", code);
	else
		snprintf(why, len, "%s", curl_easy_strerror(rc));
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	return code;
}

/* The job's dispatch, claimed and sent: 0, 1 when not taken (queued with backoff), -1. */
static int
send_claimed(const struct config *cfg, const char *case_id, const char *id)
{
	char wid[160], why[CURL_ERROR_SIZE + 32], host[256];
	struct hookpost_answer ans;
	int64_t next_at = 0;
	char *body = dispatch_body(cfg, case_id, id);
	if (body == NULL) {
		log_error("case %s: cannot build dispatch %s", case_id, id);
		return -1;
	}
	/* A fresh webhook-id each attempt: the worker host refuses any id twice. */
	snprintf(wid, sizeof(wid), "%s-%lld", id, (long long)codec_now_ms());
	long code = post(cfg, wid, body, &ans, why, sizeof(why));
	free(body);
	if (code >= 200 && code < 300) {
		taken_by(&ans, host);
		log_info("case %s: dispatched as %s to %s", case_id, id, *host ? host : "(unnamed)");
		return store_dispatch_sent(case_id, id, host, codec_now_ms()) >= 0 ? 0 : -1;
	}
	(void)store_dispatch_failed(case_id, id, why, codec_now_ms(), &next_at);
	log_warn("case %s: dispatch %s not taken (%s); the job stays queued, next try in %lld s",
	    case_id, id, why, (long long)(next_at - codec_now_ms() + 500) / 1000);
	return 1;
}

/*
 * Sends the job's queued dispatch if it is due and a place is free under
 * dispatch_max_jobs: 0 sent, 1 left queued (full, not due, or not taken),
 * -1. The claim is one statement, so that senders in several processes
 * (dispatchers, the reaper) neither send it twice nor pass the cap.
 */
static int
send_one(const struct config *cfg, const char *case_id)
{
	char id[DISPATCH_ID_MAX];
	int64_t now = codec_now_ms();
	int rc = store_dispatch_claim(case_id, now, now + LEASE_MS, cfg->dispatch_max_jobs, id);
	if (rc == 1)
		return send_claimed(cfg, case_id, id);
	if (rc == 0 && store_dispatch_to_send(case_id, id) == 1)
		log_info("case %s: dispatch_max_jobs %ld at work: queued", case_id,
		    cfg->dispatch_max_jobs);
	return rc == 0 ? 1 : -1;
}

/* The attempt runs in a process of its own: the pool may take webhook_timeout. */
static void
send_apart(const char *case_id)
{
	if (spawn_dispatcher(case_id) != 0)
		log_warn("case %s: cannot start its dispatcher; the reaper sends the dispatch",
		    case_id);
}

/*
 * generate: the new job's dispatch is recorded, due now, and sent by a
 * dispatcher of its own, so that generate answers at once and the
 * responder's other requests do not wait on the pool. The reaper sends it
 * if need be.
 */
int
dispatch_start(const struct config *cfg, const char *case_id)
{
	(void)cfg;
	if (store_dispatch_new(case_id, codec_now_ms()) != 0)
		return -1;
	send_apart(case_id);
	return 0;
}

/* `imagegen dispatch CASE`: the dispatcher. */
int
dispatch_send(const struct config *cfg, const char *case_id)
{
	return send_one(cfg, case_id) < 0 ? -1 : 0;
}

/* retry: the images to make again go out under a new dispatch id. */
void
dispatch_retry(const struct config *cfg, const char *case_id)
{
	(void)cfg;
	if (store_dispatch_again(case_id, codec_now_ms()) == 1)
		send_apart(case_id);
	else
		log_error("case %s: no dispatch to make again; the reaper cannot retry it either",
		    case_id);
}

/*
 * cancel: the worker host's dispatch is fenced (its next update gets 409
 * and it stops), and a local worker ends the job here as for a queued job:
 * no request to the image API, the final webhook to the caller.
 */
int
dispatch_cancel(const struct config *cfg, const char *case_id)
{
	(void)cfg;
	int rc = store_dispatch_withdraw(case_id);
	if (rc != 1)
		return rc;
	log_info("case %s: dispatch withdrawn; ending the job here", case_id);
	if (store_release(case_id, 0, codec_now_ms()) != 1 || spawn_worker(case_id) != 0)
		log_error("case %s: cannot start the worker that ends it", case_id);
	return 1;
}

static int
due(const char *case_id, int redispatched, void *arg)
{
	const struct config *cfg = arg;
	if (!redispatched && store_dispatch_busy() >= cfg->dispatch_max_jobs)
		return 1;	/* full: the rest wait for the next sweep */
	if (redispatched)
		log_warn("case %s: dispatch silent for %ld s; dispatching it again", case_id,
		    cfg->stale_after);
	(void)send_one(cfg, case_id);
	return 0;
}

/* The reaper's share on a state host: queued dispatches due, silent ones again. */
int
dispatch_reap(const struct config *cfg)
{
	if (*cfg->dispatch_url == '\0')
		return 0;
	int graced = store_dispatch_reaper_here(codec_now_ms(), cfg->stale_after * 1000);
	if (graced > 0)
		log_warn("dispatch: the reaper had not run for over stale_after (%ld s): the state "
		    "host was down; %d dispatches get stale_after afresh", cfg->stale_after, graced);
	return store_dispatch_each_due(codec_now_ms(), cfg->stale_after * 1000,
	    cfg->dispatch_max_jobs, due, (void *)cfg);
}

/* An applied update of the current dispatch: liveness, and who made the images. */
void
dispatch_heard(const struct config *cfg, const struct progress *p)
{
	(void)cfg;
	if (store_dispatch_heard(p->case_id, p->dispatch_id,
	    p->worker_host ? p->worker_host : "", progress_status_rank(p->status) == 2,
	    codec_now_ms()) != 0 || store_dispatch_count(p->worker_host ? p->worker_host : "",
	    0, codec_now_ms()) != 0)
		log_error("case %s: cannot record the update of dispatch %s", p->case_id,
		    p->dispatch_id);
}

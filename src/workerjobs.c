/*
 * workerjobs.c: POST /api/worker/jobs, a worker host's one route. The
 * state host dispatches a job signed with dispatch_secret (Standard
 * Webhooks 1.0); an unsigned, tampered, stale or replayed dispatch is
 * refused before anything is recorded. The job is then recorded here like
 * a generate request, its webhookUrl the state host's callback, so that
 * this host's own recovery (heartbeat, reap, resume, outbox) runs it.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "casereq.h"
#include "codec.h"
#include "config.h"
#include "handover.h"
#include "log.h"
#include "queue.h"
#include "request.h"
#include "sign.h"
#include "store.h"
#include "store_dispatch.h"
#include "store_progress.h"
#include "workerjobs.h"

#define REFUSED "worker jobs: refused a dispatch"

static int
verified(struct request *r)
{
	if (*r->cfg->dispatch_secret == '\0') {
		log_warn(REFUSED ": no dispatch_secret is configured");
		reply_error(r, 403, "this host takes no dispatches: set dispatch_secret", NULL);
		return 0;
	}
	return sign_request(r, r->cfg->dispatch_secret, REFUSED);
}

/* The dispatch id: 1 to 100 of [A-Za-z0-9._-]. */
static int
dispatch_id(struct request *r, char id[DISPATCH_ID_MAX])
{
	cJSON *root = cJSON_ParseWithLength(r->body, r->body_len);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "dispatchId");
	int ok = cJSON_IsString(v) && strlen(v->valuestring) > 0 &&
	    strlen(v->valuestring) < DISPATCH_ID_MAX &&
	    strspn(v->valuestring, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == strlen(v->valuestring);
	if (ok)
		snprintf(id, DISPATCH_ID_MAX, "%s", v->valuestring);
	cJSON_Delete(root);
	if (!ok)
		reply_error(r, 400, "dispatchId must match [A-Za-z0-9._-]{1,99}", "dispatchId");
	return ok;
}

/* The answer names this host: the state host then knows where the job waits. */
static void
accepted(struct request *r, const char *case_id, const char *id)
{
	char host[256];
	handover_host_name(r->cfg, host, sizeof(host));
	cJSON *o = cJSON_CreateObject();
	if (o != NULL && cJSON_AddStringToObject(o, "caseId", case_id) &&
	    cJSON_AddStringToObject(o, "dispatchId", id) &&
	    cJSON_AddStringToObject(o, "workerHost", host))
		reply_json(r, 202, NULL, o);
	else
		reply_error(r, 500, "internal error", NULL);
	cJSON_Delete(o);
}

/*
 * A job dispatched here before and now over makes way for the new dispatch;
 * one still stopping (fenced) has the new one refused until it is over.
 */
static void
record(struct request *r, const struct case_req *req, const char *id)
{
	char status[12];
	int64_t now = codec_now_ms();
	int seen = sign_first_sighting(r, REFUSED, store_webhook_seen);
	if (seen == 0)
		log_warn("case %s: refused a replayed dispatch %s", req->case_id, id);
	if (seen <= 0)
		return;
	if (store_dispatch_clear_finished(req->case_id) < 0) {
		reply_error(r, 500, "internal error", NULL);
		return;
	}
	int rc = store_create(req, now, status);
	if (rc != STORE_CREATED) {
		if (rc == STORE_EXISTS || rc == STORE_CONFLICT)
			reply_error(r, 409, "this host runs the case under another dispatch",
			    "caseId");
		else
			reply_error(r, 500, "internal error", NULL);
		return;
	}
	if (store_dispatch_receive(req->case_id, id, now) != 0) {
		reply_error(r, 500, "internal error", NULL);
		return;
	}
	log_info("case %s: dispatch %s taken, %zu images", req->case_id, id, req->n_items);
	queue_start_or_wait(r->cfg, req->case_id);
	accepted(r, req->case_id, id);
}

void
workerjobs_handle(struct request *r, const char *rest)
{
	struct case_req req;
	struct req_error err;
	char id[DISPATCH_ID_MAX];
	(void)rest;

	if (request_read_json(r, r->cfg->max_body) != 0 || !verified(r) || !dispatch_id(r, id))
		return;
	if (casereq_parse_dispatch(r->body, r->body_len, r->cfg, &req, &err) != 0) {
		reply_error(r, 400, err.message, err.field);
		return;
	}
	if (req.webhook_url == NULL)
		reply_error(r, 400, "a dispatch needs the state host's callback as webhookUrl",
		    "webhookUrl");
	else
		record(r, &req, id);
	casereq_free(&req);
}

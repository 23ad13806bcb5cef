/* generate.c: POST /api/generate-case-images: record the job, start its worker, answer 202. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "casereq.h"
#include "codec.h"
#include "config.h"
#include "generate.h"
#include "jobjson.h"
#include "log.h"
#include "queue.h"
#include "request.h"
#include "store.h"

static void
accepted(struct request *r, int code, const struct case_req *req, const char *status)
{
	char location[600];
	snprintf(location, sizeof(location), "Location: %s%s\r\n", r->cfg->status_url,
	    req->case_id);
	cJSON *o = jobjson_accepted(r->cfg, req->case_id, status, (long)req->n_items);
	if (o == NULL) {
		log_error("case %s: cannot build the reply", req->case_id);
		reply_error(r, 500, "internal error", NULL);
		return;
	}
	reply_json(r, code, location, o);
	cJSON_Delete(o);
}

void
generate_handle(struct request *r, const char *rest)
{
	struct case_req req;
	struct req_error err;
	char status[12];
	(void)rest;

	if (request_read_json(r, r->cfg->max_body) != 0)
		return;
	if (casereq_parse(r->body, r->body_len, r->cfg, &req, &err) != 0) {
		reply_error(r, 400, err.message, err.field);
		return;
	}
	switch (store_create(&req, codec_now_ms(), status)) {
	case STORE_CREATED:
		log_info("case %s: job created, %zu images", req.case_id, req.n_items);
		queue_start_or_wait(r->cfg, req.case_id);
		accepted(r, 202, &req, status);
		break;
	case STORE_EXISTS:
		accepted(r, 200, &req, status);
		break;
	case STORE_CONFLICT:
		reply_error(r, 409, "caseId already exists with different input", "caseId");
		break;
	default:
		reply_error(r, 500, "internal error", NULL);
	}
	casereq_free(&req);
}

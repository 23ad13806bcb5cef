/*
 * retry.c: POST /api/case-images/{caseId}/retry: the reference's "retry
 * button". Only a finished job's failed images are made again, by a new
 * worker; retryCount counts the retries.
 */
#include <cjson/cJSON.h>

#include "casereq.h"
#include "codec.h"
#include "config.h"
#include "jobjson.h"
#include "log.h"
#include "queue.h"
#include "request.h"
#include "retry.h"
#include "store.h"

static void
started(struct request *r, cJSON *o)
{
	if (o == NULL)
		reply_error(r, 500, "internal error", NULL);
	else
		reply_json(r, 202, NULL, o);
	cJSON_Delete(o);
}

void
retry_handle(struct request *r, const char *case_id)
{
	int n = 0;
	if (!casereq_valid_id(case_id)) {
		reply_error(r, 404, "Job not found", NULL);
		return;
	}
	switch (store_retry(case_id, codec_now_ms(), &n)) {
	case RETRY_STARTED: {
		/* Read before a worker can claim the job, so the 202 says pending. */
		cJSON *o = jobjson_accepted_job(r->cfg, case_id, "retryImages",
		    cJSON_CreateNumber(n));
		log_info("case %s: retrying %d failed images", case_id, n);
		queue_start_or_wait(r->cfg, case_id);
		started(r, o);
		break;
	}
	case RETRY_NOT_FOUND:
		reply_error(r, 404, "Job not found", NULL);
		break;
	case RETRY_RUNNING:
		reply_error(r, 409, "the job is still running", NULL);
		break;
	case RETRY_NOTHING:
		reply_error(r, 409, "the job has no failed images to retry", NULL);
		break;
	default:
		reply_error(r, 500, "internal error", NULL);
	}
}

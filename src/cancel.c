/*
 * cancel.c: POST /api/case-images/{caseId}/cancel. The request is recorded
 * on the job; its worker sees it within a moment, aborts the requests in
 * flight, keeps the images already made and ends the job partial (or
 * failed, with none), lastError "cancelled by request".
 */
#include <cjson/cJSON.h>

#include "cancel.h"
#include "casereq.h"
#include "codec.h"
#include "config.h"
#include "jobjson.h"
#include "log.h"
#include "request.h"
#include "spawn.h"
#include "store.h"
#include "store_queue.h"

static void
asked(struct request *r, const char *case_id)
{
	cJSON *o = jobjson_accepted_job(r->cfg, case_id, "cancelRequested", cJSON_CreateTrue());
	if (o == NULL)
		reply_error(r, 500, "internal error", NULL);
	else
		reply_json(r, 202, NULL, o);
	cJSON_Delete(o);
}

/*
 * A job queued behind max_inflight has no worker to see the request: one
 * starts now, only to end it. It makes no request to the image API, and
 * sends the final webhook as any worker does.
 */
static void
end_if_queued(const char *case_id)
{
	if (store_take_queued(case_id, codec_now_ms()) != 1)
		return;
	log_info("case %s: queued job cancelled; starting its worker to end it", case_id);
	if (spawn_worker(case_id) != 0)
		log_error("case %s: worker not started; imagegen reap will", case_id);
}

void
cancel_handle(struct request *r, const char *case_id)
{
	if (!casereq_valid_id(case_id)) {
		reply_error(r, 404, "Job not found", NULL);
		return;
	}
	switch (store_cancel(case_id, codec_now_ms())) {
	case CANCEL_ASKED:
		log_info("case %s: cancel requested", case_id);
		end_if_queued(case_id);
		asked(r, case_id);
		break;
	case CANCEL_NOT_FOUND:
		reply_error(r, 404, "Job not found", NULL);
		break;
	case CANCEL_FINISHED:
		reply_error(r, 409, "the job has already finished", NULL);
		break;
	default:
		reply_error(r, 500, "internal error", NULL);
	}
}

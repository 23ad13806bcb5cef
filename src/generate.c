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
#include "request.h"
#include "spawn.h"
#include "store.h"
#include "store_queue.h"
#include "worker.h"

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

static int
count_dead(const char *case_id, long pid, void *arg)
{
	if (!worker_alive(pid, case_id))
		++*(long *)arg;
	return 0;
}

/*
 * Jobs at work but for case_id's own. Only at the cap is each worker
 * looked at: one that died holds no place, though its job waits for the
 * reaper, and new jobs must not queue behind it until the next sweep.
 */
static int
workers_at_work(const struct config *cfg, const char *case_id, long *n)
{
	long dead = 0;
	if (store_workers_at_work(case_id, n) != 0)
		return -1;
	if (*n < cfg->max_inflight || store_each_generating(case_id, count_dead, &dead) != 0 ||
	    dead == 0)
		return 0;
	log_info("case %s: %ld jobs at work have no live worker; a sweep resumes them", case_id,
	    dead);
	*n -= dead;
	return 0;
}

/*
 * With max_inflight workers at work, one more would only wait for a place
 * to call the image API, as a process of its own: the job waits queued,
 * for the first worker to end or the reaper. Should the count or the mark
 * fail, the worker starts as before.
 */
static void
start_or_queue(const struct config *cfg, const char *case_id)
{
	long at_work;
	if (workers_at_work(cfg, case_id, &at_work) == 0 && at_work >= cfg->max_inflight &&
	    store_queue(case_id, codec_now_ms()) == 0) {
		log_info("case %s: queued: %ld workers at work, max_inflight %ld", case_id, at_work,
		    cfg->max_inflight);
		return;
	}
	/* The job is recorded: should the fork fail, `imagegen run` resumes it. */
	if (spawn_worker(case_id) != 0)
		log_error("case %s: worker not started; run `imagegen run %s`", case_id, case_id);
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
		start_or_queue(r->cfg, req.case_id);
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

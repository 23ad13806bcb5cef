/* webhook.c: POST /api/webhook/image-progress: a worker elsewhere reports into this host. */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "dataimage.h"
#include "imageurl.h"
#include "log.h"
#include "progress.h"
#include "request.h"
#include "sign.h"
#include "store_progress.h"
#include "webhook.h"
#include "worker.h"

#define REFUSED "webhook: refused an update"

/*
 * With webhook_verify = on (the default) the raw body must be signed by
 * one of webhook_verify_secrets or by webhook_secret (Standard Webhooks
 * 1.0), checked before a byte of it is parsed; with no secret at all,
 * every update is refused.
 */
static int
verified(struct request *r)
{
	char list[8192];
	snprintf(list, sizeof(list), "%s %s", r->cfg->webhook_verify_secrets,
	    r->cfg->webhook_secret);
	int none = strspn(list, " ") == strlen(list), ok = !none &&
	    sign_request(r, list, REFUSED);
	explicit_bzero(list, sizeof(list));
	if (none)
		sign_refuse(r, REFUSED, "progress updates must be signed, and no "
		    "webhook_verify_secrets or webhook_secret is configured to check them");
	return ok;
}

/* Every image URL is one this host may serve as its own (imageurl.c), or 400 naming it. */
static int
urls_valid(struct request *r, const struct progress *p)
{
	static const char *const maps[2] = { "evidenceImages", "locationImages" };
	char field[128], why[256], msg[400];
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < p->n_images[k]; i++) {
			if (imageurl_check(r->cfg, p->case_id, p->images[k][i].url, why,
			    sizeof(why)) != IMAGEURL_BAD)
				continue;
			snprintf(field, sizeof(field), "%s.%s", maps[k], p->images[k][i].id);
			snprintf(msg, sizeof(msg), "%s %s", field, why);
			reply_error(r, 400, msg, field);
			return 0;
		}
	return 1;
}

/* The client's answer to an update, from store_apply_progress's code. */
static void
answer(struct request *r, const struct progress *p, int rc)
{
	static const char ok[] = "{\"success\":true}\n";
	switch (rc) {
	case 1:
		log_info("case %s: progress %s %ld/%ld", p->case_id, p->status, p->completed,
		    p->total);
		reply(r, 200, NULL, ok, sizeof(ok) - 1);
		break;
	case 0:
		reply_error(r, 404, "Job not found", NULL);
		break;
	case 2:
		log_warn("case %s: refused a replayed webhook-id", p->case_id);
		sign_refuse(r, REFUSED, "this webhook-id was accepted already");
		break;
	case 3:
		log_info("case %s: refused an update: the job's own worker here runs it",
		    p->case_id);
		reply_error(r, 409, "the job's own worker on this host is running it", NULL);
		break;
	case 4:
		reply_error(r, 400, "totalImages is not the job's number of images",
		    "totalImages");
		break;
	default:
		reply_error(r, 500, "internal error", NULL);
	}
}

/*
 * Before inline pictures are stored: the job is there, not its own local
 * worker's, and of the size the update says; else it is answered, as
 * store_apply_progress's codes are.
 */
static int
job_open(struct request *r, const struct progress *p)
{
	char status[12];
	long total = 0, pid = 0;
	int owner = store_progress_owner(p->case_id, r->cfg->host, worker_holds, codec_now_ms(),
	    status, &total, &pid);
	if (owner == 1 && p->total != total)
		owner = 4;
	if (owner != 1)
		answer(r, p, owner);
	return owner == 1;
}

static int
has_data(const struct progress *p)
{
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < p->n_images[k]; i++)
			if (strncmp(p->images[k][i].url, "data:", 5) == 0)
				return 1;
	return 0;
}

static int
data_stored(struct request *r, struct progress *p)
{
	char field[128], err[512];
	int rc = dataimage_store(r->cfg, p, field, sizeof(field), err, sizeof(err));
	if (rc > 0)
		reply_error(r, 400, err, field);
	else if (rc < 0)
		reply_error(r, 500, "cannot store the images", NULL);
	return rc == 0;
}

static void
apply(struct request *r, const struct progress *p, int signing)
{
	answer(r, p, store_apply_progress(p, signing ? r->webhook_id : NULL, codec_now_ms(),
	    r->cfg->host, worker_holds));
}

void
webhook_handle(struct request *r, const char *rest)
{
	struct progress p;
	char err[256];
	int signing = r->cfg->webhook_verify != 0;
	(void)rest;

	if (request_read_json(r, r->cfg->max_webhook_body) != 0)
		return;
	if (signing && !verified(r))
		return;
	if (progress_parse(r->body, r->body_len, &p, err, sizeof(err)) != 0) {
		reply_error(r, 400, err, NULL);
		return;
	}
	/* Inline pictures are stored before the update: only for a job that takes it. */
	if (urls_valid(r, &p) && (!has_data(&p) || (job_open(r, &p) && data_stored(r, &p))))
		apply(r, &p, signing);
	progress_free(&p);
}

/* webhook.c: POST /api/webhook/image-progress: a worker elsewhere reports into this host. */
#include "codec.h"
#include "config.h"
#include "log.h"
#include "progress.h"
#include "request.h"
#include "store.h"
#include "webhook.h"

void
webhook_handle(struct request *r, const char *rest)
{
	struct progress p;
	char err[256];
	(void)rest;

	if (request_read_json(r, r->cfg->max_webhook_body) != 0)
		return;
	if (progress_parse(r->body, r->body_len, &p, err, sizeof(err)) != 0) {
		reply_error(r, 400, err, NULL);
		return;
	}
	switch (store_apply_progress(&p, codec_now_ms())) {
	case 1:
		log_info("case %s: progress %s %ld/%ld", p.case_id, p.status, p.completed,
		    p.total);
		static const char ok[] = "{\"success\":true}\n";
		reply(r, 200, NULL, ok, sizeof(ok) - 1);
		break;
	case 0:
		reply_error(r, 404, "Job not found", NULL);
		break;
	default:
		reply_error(r, 500, "internal error", NULL);
	}
	progress_free(&p);
}

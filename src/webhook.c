/* webhook.c: POST /api/webhook/image-progress: a worker elsewhere reports into this host. */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "log.h"
#include "progress.h"
#include "request.h"
#include "sign.h"
#include "store_progress.h"
#include "webhook.h"

#define MAX_SECRETS 8

/*
 * With webhook_verify_secrets set, the raw body must be signed by one of
 * them (Standard Webhooks 1.0), checked before a byte of it is parsed.
 */
static int
verified(struct request *r)
{
	char list[4096], *secrets[MAX_SECRETS], *save = NULL;
	size_t n = 0;
	const char *why = "";
	snprintf(list, sizeof(list), "%s", r->cfg->webhook_verify_secrets);
	for (char *t = strtok_r(list, " ", &save); t != NULL && n < MAX_SECRETS;
	    t = strtok_r(NULL, " ", &save))
		secrets[n++] = t;
	int ok = sign_verify(secrets, n, r->webhook_id, r->webhook_timestamp,
	    r->webhook_signature, r->body, r->body_len, (long long)(codec_now_ms() / 1000), &why);
	explicit_bzero(list, sizeof(list));
	if (!ok) {
		log_warn("webhook: refused an update: %s", why);
		reply_error(r, 401, why, NULL);
	}
	return ok;
}

void
webhook_handle(struct request *r, const char *rest)
{
	struct progress p;
	char err[256];
	int signing = *r->cfg->webhook_verify_secrets != '\0';
	(void)rest;

	if (request_read_json(r, r->cfg->max_webhook_body) != 0)
		return;
	if (signing && !verified(r))
		return;
	if (progress_parse(r->body, r->body_len, &p, err, sizeof(err)) != 0) {
		reply_error(r, 400, err, NULL);
		return;
	}
	switch (store_apply_progress(&p, signing ? r->webhook_id : NULL, codec_now_ms())) {
	case 1:
		log_info("case %s: progress %s %ld/%ld", p.case_id, p.status, p.completed,
		    p.total);
		static const char ok[] = "{\"success\":true}\n";
		reply(r, 200, NULL, ok, sizeof(ok) - 1);
		break;
	case 0:
		reply_error(r, 404, "Job not found", NULL);
		break;
	case 2:
		log_warn("case %s: refused a replayed webhook-id", p.case_id);
		reply_error(r, 401, "this webhook-id was accepted already", NULL);
		break;
	default:
		reply_error(r, 500, "internal error", NULL);
	}
	progress_free(&p);
}

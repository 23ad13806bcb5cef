/*
 * google.c: what Google's APIs say when they refuse, as google.rpc.Status:
 * {"error":{"code","message","status","details":[...]}}. A RetryInfo in
 * the details says how long to wait; an ErrorInfo's reason API_KEY_INVALID
 * comes with a 400, yet no other image would fare better.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "google.h"
#include "provider.h"

#define MAX_DELAY_MS 86400000L

static int
is_type(const cJSON *detail, const char *type)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(detail, "@type");
	size_t n = strlen(type), have = cJSON_IsString(t) ? strlen(t->valuestring) : 0;
	return have >= n && strcmp(t->valuestring + have - n, type) == 0;
}

/* A google.protobuf.Duration in JSON: "13s", "0.5s". */
static long
duration_ms(const char *s)
{
	char *end;
	double secs = strtod(s, &end);
	if (end == s || strcmp(end, "s") != 0 || !(secs >= 0))
		return 0;
	return secs * 1000 > MAX_DELAY_MS ? MAX_DELAY_MS : (long)(secs * 1000);
}

struct details {
	long retry_ms;
	int key_invalid;
};

static void
read_details(const cJSON *details, struct details *d)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, details) {
		const cJSON *delay = cJSON_GetObjectItemCaseSensitive(it, "retryDelay");
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(it, "reason");
		if (is_type(it, "google.rpc.RetryInfo") && cJSON_IsString(delay))
			d->retry_ms = duration_ms(delay->valuestring);
		if (is_type(it, "google.rpc.ErrorInfo") && cJSON_IsString(reason) &&
		    strcmp(reason->valuestring, "API_KEY_INVALID") == 0)
			d->key_invalid = 1;
	}
}

/*
 * 401/403 (the key) and 404 (the model) would fail every image of the job
 * the same way: the job stops paying for them, and the message names the
 * setting to fix.
 */
void
google_error(const struct provider *p, const struct config *cfg, long code, const char *body,
    size_t len, struct provider_answer *a)
{
	cJSON *root = len > 0 ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
	struct details d = { 0, 0 };
	char msg[256] = "";
	read_details(cJSON_GetObjectItemCaseSensitive(e, "details"), &d);
	if (cJSON_IsString(m))
		provider_text(msg + 2, sizeof(msg) - 2, m->valuestring, 200), memcpy(msg, ": ", 2);
	if (code == 401 || code == 403 || d.key_invalid)
		provider_say(a, PV_FATAL, "HTTP %ld%s (check %s)", code, msg, p->key_setting);
	else if (code == 404)
		provider_say(a, PV_FATAL, "HTTP %ld%s (check %s = %s)", code, msg,
		    p->model_setting, provider_model(p, cfg));
	else
		provider_say(a, provider_transient_http(code) ? PV_RETRY : PV_FAILED,
		    "HTTP %ld%s", code, msg);
	a->retry_after_ms = a->verdict == PV_RETRY ? d.retry_ms : 0;
	cJSON_Delete(root);
}

/*
 * google.c: what Google's APIs say when they refuse, as google.rpc.Status:
 * {"error":{"code","message","status","details":[...]}}. A RetryInfo in
 * the details says how long to wait; an ErrorInfo's reason API_KEY_INVALID
 * comes with a 400, yet no other image would fare better; nor would one
 * after a FAILED_PRECONDITION (billing, or a region the API does not serve).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

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

/* The account, not the image: the key, its project's billing or region. */
static int
account(long code, const char *status, const struct details *d)
{
	return code == 401 || code == 403 || d->key_invalid ||
	    strcmp(status, "UNAUTHENTICATED") == 0 || strcmp(status, "PERMISSION_DENIED") == 0 ||
	    strcmp(status, "FAILED_PRECONDITION") == 0;
}

/* A text model asked for an image says so in a 400: no image will come from it. */
static int
no_image_output(long code, const char *msg)
{
	return code == 400 && strstr(msg, "response modalit") != NULL;
}

static void
say_account(const struct provider *p, long code, const char *status, const char *msg,
    const struct details *d, struct provider_answer *a)
{
	if (strcmp(status, "FAILED_PRECONDITION") == 0 && !d->key_invalid)
		provider_say(a, PV_ACCOUNT, "HTTP %ld FAILED_PRECONDITION%s (the key's Google "
		    "project: check its billing and that the API serves its region, in AI Studio "
		    "or the Cloud console)", code, msg);
	else
		provider_say(a, PV_ACCOUNT, "HTTP %ld%s (check %s)", code, msg, p->key_setting);
}

/*
 * A bad key, billing or region (PV_ACCOUNT) fails every image of the job
 * alike, and a retired model (404) every image asked of it: the job stops
 * paying for them, and the message names the setting or page to fix.
 */
void
google_error(const struct provider *p, const char *model, long code, const char *body,
    size_t len, struct provider_answer *a)
{
	cJSON *root = len > 0 ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");
	const char *status = cJSON_IsString(st) ? st->valuestring : "";
	struct details d = { 0, 0 };
	char msg[256] = "";
	read_details(cJSON_GetObjectItemCaseSensitive(e, "details"), &d);
	if (cJSON_IsString(m))
		provider_text(msg + 2, sizeof(msg) - 2, m->valuestring, 200), memcpy(msg, ": ", 2);
	a->makes_none = no_image_output(code, msg);
	if (account(code, status, &d))
		say_account(p, code, status, msg, &d, a);
	else if (code == 404 || no_image_output(code, msg))
		provider_say(a, PV_GONE, "HTTP %ld%s (check %s: %s %s)", code, msg,
		    p->model_setting, model, a->makes_none ? "makes no images" :
		    "is retired or misspelt");
	else
		provider_say(a, provider_transient_http(code) ? PV_RETRY : PV_FAILED,
		    "HTTP %ld%s", code, msg);
	a->retry_after_ms = a->verdict == PV_RETRY ? d.retry_ms : 0;
	a->quota = code == 429 || strcmp(status, "RESOURCE_EXHAUSTED") == 0;
	cJSON_Delete(root);
}

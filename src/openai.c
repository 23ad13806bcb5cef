/*
 * openai.c: `provider = openai`, POST {openai_url}/v1/images/generations
 * with Authorization: Bearer, the answer's data[0].b64_json. Wire format:
 * OpenAI's Images API reference (checked 2026-12-06) and
 * provider-wire-formats.md, as the openai SDK 7.60.0 sends it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "provider.h"

/* This provider's own keys, in imagegen.conf(5) among the others. */
struct openai_settings {
	char *api_key;
	struct config_names models;
	char *output_format;	/* "" sends none: older models took none */
	char *quality;
	char *size;
	char *url;
};

#define O(f) offsetof(struct openai_settings, f)
/*
 * OpenAI's deprecations page names gpt-image-2.6-sunburst and -flare as
 * the replacements of the image models it shut on 2026-10-23 and
 * 2026-12-01 (imagegen.conf(5)).
 */
static const struct config_key keys[] = {
	{ "openai_api_key", K_SECRET, O(api_key), 0, 0, NULL, "", "OPENAI_API_KEY" },
	{ "openai_model", K_NAMES, O(models), 0, 0, NULL,
	  "gpt-image-2.6-sunburst gpt-image-2.6-flare", NULL },
	{ "openai_output_format", K_STR, O(output_format), 0, 0, NULL, "jpeg", NULL },
	{ "openai_quality", K_STR, O(quality), 0, 0, NULL, "medium", NULL },
	{ "openai_size", K_STR, O(size), 0, 0, NULL, "1024x1024", NULL },
	{ "openai_url", K_URL, O(url), 0, 0, NULL, "https://api.openai.com", NULL },
};
#undef O

static const struct openai_settings *
settings(const struct config *cfg)
{
	return provider_settings(&provider_openai, cfg);
}

/* Only the fields that are set. */
static char *
request_body(const struct openai_settings *o, const char *model, const char *prompt)
{
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	if (root != NULL && cJSON_AddStringToObject(root, "model", model) &&
	    cJSON_AddStringToObject(root, "prompt", prompt) &&
	    cJSON_AddNumberToObject(root, "n", 1) &&
	    cJSON_AddStringToObject(root, "size", o->size) &&
	    (*o->quality == '\0' || cJSON_AddStringToObject(root, "quality", o->quality)) &&
	    (*o->output_format == '\0' ||
	    cJSON_AddStringToObject(root, "output_format", o->output_format)))
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static int
request(const struct config *cfg, const char *model, const char *prompt, char *url,
    size_t urllen, struct curl_slist **headers, char **body)
{
	const struct openai_settings *o = settings(cfg);
	if (snprintf(url, urllen, "%s/v1/images/generations", o->url) >= (int)urllen)
		return -1;
	*body = request_body(o, model, prompt);
	return *body == NULL ? -1 : provider_key_header(headers, "Authorization: Bearer %s",
	    o->api_key);
}

static void
parse(const char *body, size_t len, struct provider_answer *a)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "data"), 0);
	const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(first, "b64_json");
	provider_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), "input_tokens",
	    "output_tokens", a);
	if (root == NULL)
		provider_say(a, PV_FAILED, "the response is not valid JSON");
	else if (first == NULL)
		provider_say(a, PV_FAILED, "no image in the response (empty data)");
	else if (!cJSON_IsString(b64))
		provider_say(a, PV_FAILED, "no b64_json in the response");
	else
		provider_b64_image(b64->valuestring, a, "b64_json");
	cJSON_Delete(root);
}

static int
code_is(const cJSON *code, const char *const *words)
{
	for (int i = 0; cJSON_IsString(code) && words[i] != NULL; i++)
		if (strcmp(code->valuestring, words[i]) == 0)
			return 1;
	return 0;
}

/*
 * {"error":{"message","type","param","code"}}. A content-policy refusal
 * is final for the image; a model that is gone (404, or model_not_found
 * in a 400) gives way to the next model; the key, an exhausted balance (a
 * 429 that no wait cures) or a closed account end the job's calls here,
 * each naming the setting or page to fix.
 */
static void
error(const struct config *cfg, const char *model, long code, const char *body, size_t len,
    struct provider_answer *a)
{
	static const char *const refused[] = { "moderation_blocked", "content_policy_violation",
	    NULL };
	static const char *const broke[] = { "insufficient_quota", "billing_hard_limit_reached",
	    "account_deactivated", NULL };
	static const char *const gone[] = { "model_not_found", NULL };
	(void)cfg;
	cJSON *root = len > 0 ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
	char msg[256] = "";
	if (cJSON_IsString(m))
		provider_text(msg + 2, sizeof(msg) - 2, m->valuestring, 200), memcpy(msg, ": ", 2);
	if (code_is(c, refused))
		provider_say(a, PV_REFUSED, "HTTP %ld %s%s", code, c->valuestring, msg);
	else if (code == 401 || code == 403)
		provider_say(a, PV_ACCOUNT, "HTTP %ld%s (check %s)", code, msg,
		    provider_openai.key_setting);
	else if (code == 404 || code_is(c, gone))
		provider_say(a, PV_GONE, "HTTP %ld%s (check openai_model: %s is retired or "
		    "misspelt)", code, msg, model);
	else if (code_is(c, broke))
		provider_say(a, PV_ACCOUNT, "HTTP %ld %s%s (the account's billing: "
		    "https://platform.openai.com/settings/organization/billing)", code,
		    c->valuestring, msg);
	else
		provider_say(a, provider_transient_http(code) || code >= 500 ? PV_RETRY :
		    PV_FAILED, "HTTP %ld%s", code, msg);
	a->quota = code == 429;
	cJSON_Delete(root);
}

static int
list_request(const struct config *cfg, char *url, size_t urllen, struct curl_slist **headers)
{
	const struct openai_settings *o = settings(cfg);
	if (snprintf(url, urllen, "%s/v1/models", o->url) >= (int)urllen)
		return -1;
	return provider_key_header(headers, "Authorization: Bearer %s", o->api_key);
}

/*
 * The list says nothing of what a model makes; it gives each model its
 * announced shutdown_date (YYYY-MM-DD), or null when none is announced.
 */
static int
list_model(const char *body, size_t len, const char *model, struct provider_listing *l)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *m;
	memset(l, 0, sizeof(*l));
	l->images = -1;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "data")) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
		const cJSON *shut = cJSON_GetObjectItemCaseSensitive(m, "shutdown_date");
		if (cJSON_IsString(id) && strcmp(id->valuestring, model) == 0) {
			l->listed = l->generates = 1;
			l->retires_at = cJSON_IsString(shut) ? provider_time(shut->valuestring) : 0;
		}
	}
	int rc = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "data")) ? 0 : -1;
	cJSON_Delete(root);
	return rc;
}

const struct provider provider_openai = {
	.name = "openai",
	.key_setting = "openai_api_key or OPENAI_API_KEY",
	.model_setting = "openai_model",
	.keys = keys,
	.n_keys = sizeof(keys) / sizeof(keys[0]),
	.settings_size = sizeof(struct openai_settings),
	.models_off = offsetof(struct openai_settings, models),
	.key_off = offsetof(struct openai_settings, api_key),
	.request = request,
	.parse = parse,
	.error = error,
	.list_request = list_request,
	.list_model = list_model,
};

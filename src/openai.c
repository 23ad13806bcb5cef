/*
 * openai.c: `provider = openai`, POST {openai_url}/v1/images/generations
 * with Authorization: Bearer, the answer's data[0].b64_json. Wire format:
 * OpenAI's Images API reference (checked 2026-11-29) and
 * provider-wire-formats.md.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "provider.h"

/* Only the fields that are set: older models take neither quality nor output_format. */
static char *
request_body(const struct config *cfg, const char *prompt)
{
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	if (root != NULL && cJSON_AddStringToObject(root, "model", cfg->openai_model) &&
	    cJSON_AddStringToObject(root, "prompt", prompt) &&
	    cJSON_AddNumberToObject(root, "n", 1) &&
	    cJSON_AddStringToObject(root, "size", cfg->openai_size) &&
	    (*cfg->openai_quality == '\0' ||
	    cJSON_AddStringToObject(root, "quality", cfg->openai_quality)) &&
	    (*cfg->openai_output_format == '\0' ||
	    cJSON_AddStringToObject(root, "output_format", cfg->openai_output_format)))
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static int
request(const struct config *cfg, const char *prompt, char *url, size_t urllen,
    struct curl_slist **headers, char **body)
{
	if (snprintf(url, urllen, "%s/v1/images/generations", cfg->openai_url) >= (int)urllen)
		return -1;
	*body = request_body(cfg, prompt);
	return *body == NULL ? -1 : provider_key_header(headers, "Authorization: Bearer %s",
	    cfg->openai_api_key);
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
 * is final; 401/403/404 and an exhausted balance (a 429 that no wait
 * cures) fail the job here, naming the setting to fix.
 */
static void
error(const struct config *cfg, long code, const char *body, size_t len,
    struct provider_answer *a)
{
	static const char *const refused[] = { "moderation_blocked", "content_policy_violation",
	    NULL };
	static const char *const broke[] = { "insufficient_quota", "billing_hard_limit_reached",
	    NULL };
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
		provider_say(a, PV_FATAL, "HTTP %ld%s (check %s)", code, msg,
		    provider_openai.key_setting);
	else if (code == 404)
		provider_say(a, PV_FATAL, "HTTP %ld%s (check openai_model = %s)", code, msg,
		    cfg->openai_model);
	else if (code_is(c, broke))
		provider_say(a, PV_FATAL, "HTTP %ld %s%s", code, c->valuestring, msg);
	else
		provider_say(a, provider_transient_http(code) || code >= 500 ? PV_RETRY :
		    PV_FAILED, "HTTP %ld%s", code, msg);
	cJSON_Delete(root);
}

static int
list_request(const struct config *cfg, char *url, size_t urllen, struct curl_slist **headers)
{
	if (snprintf(url, urllen, "%s/v1/models", cfg->openai_url) >= (int)urllen)
		return -1;
	return provider_key_header(headers, "Authorization: Bearer %s", cfg->openai_api_key);
}

static int
list_has_model(const struct config *cfg, const char *body, size_t len, char *why,
    size_t whylen)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *m;
	int found = 0;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "data")) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
		if (cJSON_IsString(id) && strcmp(id->valuestring, cfg->openai_model) == 0)
			found = 1;
	}
	if (root == NULL)
		snprintf(why, whylen, "the model list is not valid JSON");
	else if (!found)
		snprintf(why, whylen, "openai_model %s is not in the model list: retired, "
		    "misspelt, or not open to this key", cfg->openai_model);
	cJSON_Delete(root);
	return found;
}

const struct provider provider_openai = {
	.name = "openai",
	.key_setting = "openai_api_key or OPENAI_API_KEY",
	.model_setting = "openai_model",
	.model_field = offsetof(struct config, openai_model),
	.key_field = offsetof(struct config, openai_api_key),
	.request = request,
	.parse = parse,
	.error = error,
	.list_request = list_request,
	.list_has_model = list_has_model,
};

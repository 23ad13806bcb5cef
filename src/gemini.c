/*
 * gemini.c: `provider = gemini`, the Gemini image models through
 * POST {gemini_url}/v1beta/models/{gemini_model}:generateContent, the key
 * in x-goog-api-key only, never in the URL, where logs would keep it.
 * Wire format: Google's Gemini API reference (generateContent, checked
 * 2026-11-29) and provider-wire-formats.md.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "google.h"
#include "provider.h"

/* Only the fields that are set: models differ in what imageConfig takes. */
static char *
request_body(const struct config *cfg, const char *prompt)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *contents = cJSON_AddArrayToObject(root, "contents");
	cJSON *content = cJSON_CreateObject();
	if (contents == NULL || content == NULL || !cJSON_AddItemToArray(contents, content)) {
		cJSON_Delete(content);
		cJSON_Delete(root);
		return NULL;
	}
	cJSON *parts = cJSON_AddArrayToObject(content, "parts");
	cJSON *part = cJSON_CreateObject();
	if (parts == NULL || part == NULL || !cJSON_AddItemToArray(parts, part)) {
		cJSON_Delete(part);
		cJSON_Delete(root);
		return NULL;
	}
	cJSON *gen = cJSON_AddObjectToObject(root, "generationConfig");
	cJSON *modes = gen ? cJSON_AddArrayToObject(gen, "responseModalities") : NULL;
	cJSON *image = gen ? cJSON_AddObjectToObject(gen, "imageConfig") : NULL;
	cJSON *mode = cJSON_CreateString("IMAGE");
	char *text = NULL;
	if (mode != NULL && modes != NULL && cJSON_AddItemToArray(modes, mode)) {
		mode = NULL;
		if (cJSON_AddStringToObject(content, "role", "user") &&
		    cJSON_AddStringToObject(part, "text", prompt) && image != NULL &&
		    cJSON_AddStringToObject(image, "aspectRatio", "1:1") &&
		    (*cfg->gemini_image_size == '\0' ||
		    cJSON_AddStringToObject(image, "imageSize", cfg->gemini_image_size)))
			text = cJSON_PrintUnformatted(root);
	}
	cJSON_Delete(mode);
	cJSON_Delete(root);
	return text;
}

static int
request(const struct config *cfg, const char *prompt, char *url, size_t urllen,
    struct curl_slist **headers, char **body)
{
	if (snprintf(url, urllen, "%s/v1beta/models/%s:generateContent", cfg->gemini_url,
	    cfg->gemini_model) >= (int)urllen)
		return -1;
	*body = request_body(cfg, prompt);
	return *body == NULL ? -1 : provider_key_header(headers, "x-goog-api-key: %s", cfg->api_key);
}

/* The SDKs accept both spellings: inlineData/mimeType and inline_data/mime_type. */
static const cJSON *
inline_data(const cJSON *part)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(part, "inlineData");
	return d != NULL ? d : cJSON_GetObjectItemCaseSensitive(part, "inline_data");
}

static const char *
mime_type(const cJSON *data)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(data, "mimeType");
	if (m == NULL)
		m = cJSON_GetObjectItemCaseSensitive(data, "mime_type");
	return cJSON_IsString(m) ? m->valuestring : "";
}

/*
 * Thinking models send draft images first, marked "thought": true; the
 * picture is the last image that is not a thought. Text parts are skipped,
 * though the first is kept: with no image it may say why.
 */
static const char *
pick_image(const cJSON *parts, const char **text)
{
	const char *found = NULL;
	const cJSON *part;
	cJSON_ArrayForEach(part, parts) {
		const cJSON *d = inline_data(part);
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(d, "data");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part, "thought")))
			continue;
		if (cJSON_IsString(data) && strncmp(mime_type(d), "image/", 6) == 0)
			found = data->valuestring;
		else if (cJSON_IsString(t) && *text == NULL)
			*text = t->valuestring;
	}
	return found;
}

/* finishReasons that say the content itself was refused (not merely no picture). */
static int
refusal(const char *reason)
{
	static const char *const words[] = { "SAFETY", "PROHIBITED_CONTENT", "IMAGE_SAFETY",
	    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "RECITATION", "BLOCKLIST", "SPII",
	    NULL };
	for (int i = 0; words[i] != NULL; i++)
		if (strcmp(reason, words[i]) == 0)
			return 1;
	return 0;
}

/* No picture: the reason is final for this image, never retried. */
static void
no_image(const cJSON *cand, const char *text, struct provider_answer *a)
{
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(cand, "finishReason");
	const char *reason = cJSON_IsString(fr) ? fr->valuestring : "none";
	char said[160] = "";
	if (text != NULL)
		provider_text(said, sizeof(said), text, 120);
	provider_say(a, refusal(reason) ? PV_REFUSED : PV_FAILED,
	    "no image: finishReason %s%s%s", reason, text ? ": " : "", said);
}

static void
parse(const char *body, size_t len, struct provider_answer *a)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *fb = cJSON_GetObjectItemCaseSensitive(root, "promptFeedback");
	const cJSON *block = cJSON_GetObjectItemCaseSensitive(fb, "blockReason");
	const cJSON *cand = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
	    "candidates"), 0);
	const cJSON *parts = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cand, "content"), "parts");
	const char *text = NULL, *b64 = NULL;
	provider_usage(cJSON_GetObjectItemCaseSensitive(root, "usageMetadata"),
	    "promptTokenCount", "candidatesTokenCount", a);
	if (root == NULL)
		provider_say(a, PV_FAILED, "the response is not valid JSON");
	else if (cJSON_IsString(block))
		provider_say(a, PV_REFUSED, "prompt blocked: %s", block->valuestring);
	else if (cand == NULL)
		provider_say(a, PV_FAILED, "no image in the response (no candidates)");
	else if ((b64 = pick_image(parts, &text)) == NULL)
		no_image(cand, text, a);
	else
		provider_b64_image(b64, a, "inlineData");
	cJSON_Delete(root);
}

static void
error(const struct config *cfg, long code, const char *body, size_t len,
    struct provider_answer *a)
{
	google_error(&provider_gemini, cfg, code, body, len, a);
}

/* The whole list in one page: Google's pageSize goes up to 1000. */
static int
list_request(const struct config *cfg, char *url, size_t urllen, struct curl_slist **headers)
{
	if (snprintf(url, urllen, "%s/v1beta/models?pageSize=1000", cfg->gemini_url) >=
	    (int)urllen)
		return -1;
	return provider_key_header(headers, "x-goog-api-key: %s", cfg->api_key);
}

static int
supports_generate(const cJSON *model)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(model, "supportedGenerationMethods"))
		if (cJSON_IsString(m) && strcmp(m->valuestring, "generateContent") == 0)
			return 1;
	return 0;
}

static int
list_has_model(const struct config *cfg, const char *body, size_t len, char *why,
    size_t whylen)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *m;
	int found = 0, gen = 0;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "models")) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
		if (cJSON_IsString(name) && strncmp(name->valuestring, "models/", 7) == 0 &&
		    strcmp(name->valuestring + 7, cfg->gemini_model) == 0) {
			found = 1;
			gen = supports_generate(m);
		}
	}
	if (root == NULL)
		snprintf(why, whylen, "the model list is not valid JSON");
	else if (!found)
		snprintf(why, whylen, "gemini_model %s is not in the model list: retired or "
		    "misspelt", cfg->gemini_model);
	else if (!gen)
		snprintf(why, whylen, "gemini_model %s cannot generateContent", cfg->gemini_model);
	cJSON_Delete(root);
	return found && gen;
}

const struct provider provider_gemini = {
	.name = "gemini",
	.key_setting = "api_key or GEMINI_API_KEY",
	.model_setting = "gemini_model",
	.model_field = offsetof(struct config, gemini_model),
	.key_field = offsetof(struct config, api_key),
	.request = request,
	.parse = parse,
	.error = error,
	.list_request = list_request,
	.list_has_model = list_has_model,
};

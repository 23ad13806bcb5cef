/*
 * gemini.c: `provider = gemini`, the Gemini image models through
 * POST {gemini_url}/v1beta/models/{model}:generateContent, the key in
 * x-goog-api-key only, never in the URL, where logs would keep it.
 * Wire format: Google's Gemini API reference (generateContent, checked
 * 2026-12-06) and provider-wire-formats.md, as @google/genai 3.6.1 sends it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "google.h"
#include "provider.h"

/* This provider's own keys, in imagegen.conf(5) among the others. */
struct gemini_settings {
	char *api_key;
	char *image_size;	/* "" sends none: models differ in what they take */
	struct config_names models;
	long store;		/* 0: every request says "store": false */
	char *thinking_level;	/* "" sends none */
	char *url;
};

static const char *const yesno[] = { "no", "yes", NULL };
static const char *const sizes[] = { "512", "1K", "2K", "4K", NULL };
static const char *const levels[] = { "MINIMAL", "LOW", "MEDIUM", "HIGH", NULL };

#define G(f) offsetof(struct gemini_settings, f)
/*
 * The models: Google's changelog made gemini-nano-banana-2.1 generally
 * available on 2026-10-06 and recommended it; gemini-3.1-flash-lite-image
 * has been GA since 2026-06-30 with no shutdown announced (imagegen.conf(5)).
 */
static const struct config_key keys[] = {
	{ "api_key", K_SECRET, G(api_key), 0, 0, NULL, "", "GEMINI_API_KEY" },
	{ "gemini_image_size", K_STR, G(image_size), 0, 0, sizes, "", NULL },
	{ "gemini_model", K_NAMES, G(models), 0, 0, NULL,
	  "gemini-nano-banana-2.1 gemini-3.1-flash-lite-image", NULL },
	{ "gemini_store", K_ENUM, G(store), 0, 0, yesno, "no", NULL },
	{ "gemini_thinking_level", K_STR, G(thinking_level), 0, 0, levels, "", NULL },
	{ "gemini_url", K_URL, G(url), 0, 0, NULL, "https://generativelanguage.googleapis.com",
	  NULL },
};
#undef G

static const struct gemini_settings *
settings(const struct config *cfg)
{
	return provider_settings(&provider_gemini, cfg);
}

static cJSON *
contents(const char *prompt)
{
	cJSON *list = cJSON_CreateArray(), *content = cJSON_CreateObject();
	cJSON *parts = cJSON_AddArrayToObject(content, "parts"), *part = cJSON_CreateObject();
	int ok = list != NULL && content != NULL && parts != NULL && part != NULL &&
	    cJSON_AddStringToObject(part, "text", prompt) != NULL;
	if (ok && cJSON_AddItemToArray(parts, part)) {
		part = NULL;
		ok = cJSON_AddStringToObject(content, "role", "user") != NULL &&
		    cJSON_AddItemToArray(list, content);
		content = ok ? NULL : content;
	}
	cJSON_Delete(part);
	cJSON_Delete(content);
	if (!ok)
		cJSON_Delete(list);
	return ok ? list : NULL;
}

/* Only the fields that are set: models differ in what they take. */
static int
generation_config(const struct gemini_settings *g, cJSON *gen)
{
	cJSON *modes = cJSON_AddArrayToObject(gen, "responseModalities");
	cJSON *mode = cJSON_CreateString("IMAGE");
	if (modes == NULL || mode == NULL || !cJSON_AddItemToArray(modes, mode)) {
		cJSON_Delete(mode);
		return -1;
	}
	cJSON *think = *g->thinking_level ? cJSON_AddObjectToObject(gen, "thinkingConfig") : NULL;
	if (*g->thinking_level && (think == NULL ||
	    !cJSON_AddStringToObject(think, "thinkingLevel", g->thinking_level)))
		return -1;
	cJSON *image = cJSON_AddObjectToObject(gen, "imageConfig");
	return image != NULL && cJSON_AddStringToObject(image, "aspectRatio", "1:1") &&
	    (*g->image_size == '\0' || cJSON_AddStringToObject(image, "imageSize",
	    g->image_size)) ? 0 : -1;
}

/*
 * Key order as the SDK sends it: contents, store, generationConfig. The
 * prompts carry a game's unpublished case text: "store": false keeps
 * Google from logging them where a project stores requests by default.
 */
static char *
request_body(const struct gemini_settings *g, const char *prompt)
{
	cJSON *root = cJSON_CreateObject(), *list = contents(prompt);
	char *text = NULL;
	if (root == NULL || list == NULL || !cJSON_AddItemToObject(root, "contents", list)) {
		cJSON_Delete(list);
		cJSON_Delete(root);
		return NULL;
	}
	cJSON *gen = (g->store || cJSON_AddFalseToObject(root, "store")) ?
	    cJSON_AddObjectToObject(root, "generationConfig") : NULL;
	if (gen != NULL && generation_config(g, gen) == 0)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static int
request(const struct config *cfg, const char *model, const char *prompt, char *url,
    size_t urllen, struct curl_slist **headers, char **body)
{
	const struct gemini_settings *g = settings(cfg);
	if (snprintf(url, urllen, "%s/v1beta/models/%s:generateContent", g->url, model) >=
	    (int)urllen)
		return -1;
	*body = request_body(g, prompt);
	return *body == NULL ? -1 : provider_key_header(headers, "x-goog-api-key: %s",
	    g->api_key);
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

static int
is_one_of(const char *reason, const char *const *words)
{
	for (int i = 0; words[i] != NULL; i++)
		if (strcmp(reason, words[i]) == 0)
			return 1;
	return 0;
}

/*
 * What a finishReason without a picture means: the content was refused;
 * the account is limited (no image of the job would fare better); a
 * cut-short answer (CONTINUATION: the SDK would ask again); or merely none.
 */
static enum provider_verdict
finish_verdict(const char *reason)
{
	static const char *const refused[] = { "SAFETY", "PROHIBITED_CONTENT", "IMAGE_SAFETY",
	    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "RECITATION", "BLOCKLIST", "SPII",
	    NULL };
	static const char *const again[] = { "CONTINUATION", "MALFORMED_RESPONSE", NULL };
	if (is_one_of(reason, refused))
		return PV_REFUSED;
	if (strcmp(reason, "PUP_LIMITED_DISABLED") == 0)
		return PV_ACCOUNT;
	return is_one_of(reason, again) ? PV_RETRY : PV_FAILED;
}

/* No picture: why, in Google's words where it gave some (finishMessage, a text part). */
static void
no_image(const cJSON *cand, const char *text, struct provider_answer *a)
{
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(cand, "finishReason");
	const cJSON *fm = cJSON_GetObjectItemCaseSensitive(cand, "finishMessage");
	const char *reason = cJSON_IsString(fr) ? fr->valuestring : "none";
	const char *said = cJSON_IsString(fm) ? fm->valuestring : text;
	char quote[200] = "";
	enum provider_verdict v = finish_verdict(reason);
	if (said != NULL)
		provider_text(quote, sizeof(quote), said, 160);
	provider_say(a, v, "no image: finishReason %s%s%s%s", reason, said ? ": " : "", quote,
	    v == PV_ACCOUNT ? " (the key's account is limited or disabled: see AI Studio)" : "");
}

/* modelStatus: the model's stage, and the retirement it announces. */
static void
model_status(const cJSON *root, struct provider_answer *a)
{
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(root, "modelStatus");
	const cJSON *stage = cJSON_GetObjectItemCaseSensitive(ms, "modelStage");
	const cJSON *when = cJSON_GetObjectItemCaseSensitive(ms, "retirementTime");
	if (cJSON_IsString(stage))
		provider_text(a->stage, sizeof(a->stage), stage->valuestring, sizeof(a->stage) - 1);
	if (cJSON_IsString(when))
		a->retires_at = provider_time(when->valuestring);
}

/* Thinking tokens are billed as output: they count in the cost estimate. */
static void
usage(const cJSON *root, struct provider_answer *a)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usageMetadata");
	const cJSON *thoughts = cJSON_GetObjectItemCaseSensitive(u, "thoughtsTokenCount");
	provider_usage(u, "promptTokenCount", "candidatesTokenCount", a);
	if (cJSON_IsNumber(thoughts) && thoughts->valuedouble > 0 && thoughts->valuedouble < 1e15)
		a->output_tokens = (a->output_tokens > 0 ? a->output_tokens : 0) +
		    (long)thoughts->valuedouble;
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
	usage(root, a);
	model_status(root, a);
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
error(const struct config *cfg, const char *model, long code, const char *body, size_t len,
    struct provider_answer *a)
{
	(void)cfg;
	google_error(&provider_gemini, model, code, body, len, a);
}

/* The whole list in one page: Google's pageSize goes up to 1000. */
static int
list_request(const struct config *cfg, char *url, size_t urllen, struct curl_slist **headers)
{
	const struct gemini_settings *g = settings(cfg);
	if (snprintf(url, urllen, "%s/v1beta/models?pageSize=1000", g->url) >= (int)urllen)
		return -1;
	return provider_key_header(headers, "x-goog-api-key: %s", g->api_key);
}

static int
has_method(const cJSON *model, const char *method)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(model, "supportedGenerationMethods"))
		if (cJSON_IsString(m) && strcmp(m->valuestring, method) == 0)
			return 1;
	return 0;
}

/*
 * The list has no field for what a model makes: its own words for it,
 * displayName and description, are all it says. Silence counts as "no";
 * a model that has made images here passes all the same (check.c).
 */
static int
says_image(const cJSON *model)
{
	const char *fields[] = { "displayName", "description" };
	for (int i = 0; i < 2; i++) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(model, fields[i]);
		if (cJSON_IsString(f) && strcasestr(f->valuestring, "image") != NULL)
			return 1;
	}
	return 0;
}

/*
 * A model is judged by what the list says of it, never by its name: a
 * current one need not have "image" in it (gemini-nano-banana-2.1).
 */
static int
list_model(const char *body, size_t len, const char *model, struct provider_listing *l)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *m;
	memset(l, 0, sizeof(*l));
	l->images = -1;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "models")) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
		if (cJSON_IsString(name) && strncmp(name->valuestring, "models/", 7) == 0 &&
		    strcmp(name->valuestring + 7, model) == 0) {
			l->listed = 1;
			l->generates = has_method(m, "generateContent");
			l->images = says_image(m);
		}
	}
	int rc = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "models")) ? 0 : -1;
	cJSON_Delete(root);
	return rc;
}

const struct provider provider_gemini = {
	.name = "gemini",
	.key_setting = "api_key or GEMINI_API_KEY",
	.model_setting = "gemini_model",
	.keys = keys,
	.n_keys = sizeof(keys) / sizeof(keys[0]),
	.settings_size = sizeof(struct gemini_settings),
	.models_off = offsetof(struct gemini_settings, models),
	.key_off = offsetof(struct gemini_settings, api_key),
	.request = request,
	.parse = parse,
	.error = error,
	.list_request = list_request,
	.list_model = list_model,
};

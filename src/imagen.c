/*
 * imagen.c: `provider = imagen`, Imagen's :predict, for Vertex AI and
 * compatible endpoints (Google shut Imagen down on the Gemini API in
 * 2026). POST {imagen_url}/v1beta/models/{imagen_model}:predict, or
 * imagen_endpoint as given (Vertex's
 * /v1/projects/P/locations/L/publishers/google/models/M:predict). The key
 * goes in x-goog-api-key only, never in the URL, where logs would keep it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "google.h"
#include "provider.h"

/* includeRaiReason: a filtered image then says why, instead of vanishing. */
static char *
request_body(const char *prompt)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(root, "instances");
	cJSON *inst = cJSON_CreateObject();
	if (arr == NULL || inst == NULL || !cJSON_AddItemToArray(arr, inst)) {
		cJSON_Delete(inst);
		cJSON_Delete(root);
		return NULL;
	}
	cJSON *params = cJSON_AddObjectToObject(root, "parameters");
	char *text = NULL;
	if (params != NULL && cJSON_AddStringToObject(inst, "prompt", prompt) &&
	    cJSON_AddNumberToObject(params, "sampleCount", 1) &&
	    cJSON_AddStringToObject(params, "aspectRatio", "1:1") &&
	    cJSON_AddTrueToObject(params, "includeRaiReason"))
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static int
request(const struct config *cfg, const char *prompt, char *url, size_t urllen,
    struct curl_slist **headers, char **body)
{
	int n = *cfg->imagen_endpoint != '\0' ? snprintf(url, urllen, "%s", cfg->imagen_endpoint)
	    : snprintf(url, urllen, "%s/v1beta/models/%s:predict", cfg->imagen_url,
	    cfg->imagen_model);
	if (n >= (int)urllen)
		return -1;
	*body = request_body(prompt);
	return *body == NULL ? -1 : provider_key_header(headers, "x-goog-api-key: %s", cfg->api_key);
}

/*
 * The picture is the first prediction with bytes: with includeRaiReason a
 * filtered one comes first, holding only its raiFilteredReason.
 */
static void
parse(const char *body, size_t len, struct provider_answer *a)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *preds = cJSON_GetObjectItemCaseSensitive(root, "predictions");
	const cJSON *p, *b64 = NULL, *why = NULL;
	cJSON_ArrayForEach(p, preds) {
		const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(p, "bytesBase64Encoded");
		const cJSON *rai = cJSON_GetObjectItemCaseSensitive(p, "raiFilteredReason");
		if (b64 == NULL && cJSON_IsString(bytes))
			b64 = bytes;
		if (why == NULL && cJSON_IsString(rai))
			why = rai;
	}
	if (root == NULL)
		provider_say(a, PV_FAILED, "the response is not valid JSON");
	else if (b64 != NULL)
		provider_b64_image(b64->valuestring, a, "bytesBase64Encoded");
	else if (why != NULL)
		provider_say(a, PV_REFUSED, "filtered: %s", why->valuestring);
	else if (cJSON_GetArraySize(preds) == 0)
		provider_say(a, PV_FAILED, "no image in the response (empty predictions)");
	else
		provider_say(a, PV_FAILED, "no bytesBase64Encoded in the response");
	cJSON_Delete(root);
}

static void
error(const struct config *cfg, long code, const char *body, size_t len,
    struct provider_answer *a)
{
	google_error(&provider_imagen, cfg, code, body, len, a);
}

const struct provider provider_imagen = {
	.name = "imagen",
	.key_setting = "api_key or GEMINI_API_KEY",
	.model_setting = "imagen_model",
	.model_field = offsetof(struct config, imagen_model),
	.key_field = offsetof(struct config, api_key),
	.request = request,
	.parse = parse,
	.error = error,
};

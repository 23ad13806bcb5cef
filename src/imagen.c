/*
 * imagen.c: POST {imagen_url}/v1beta/models/{model}:predict. The key goes in
 * the x-goog-api-key header only, never in the URL, where logs would keep it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "config.h"
#include "imagen.h"

#define MAX_RESPONSE (64 * 1024 * 1024)

/*
 * An answer of 1-2 MB that grew by doubling would leave its smaller
 * buffers behind in the heap: one allocation of the announced length
 * instead, when the server gives it.
 */
static size_t
first_capacity(CURL *easy)
{
	curl_off_t announced = -1;
	if (curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) != CURLE_OK ||
	    announced <= 0 || announced >= MAX_RESPONSE)
		return 64 * 1024;
	return (size_t)announced + 1;
}

static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct imagen_call *c = arg;
	size_t n = size * nmemb;
	if (c->resp_len + n > MAX_RESPONSE)
		return 0;	/* libcurl then fails the transfer with CURLE_WRITE_ERROR */
	if (c->resp_len + n + 1 > c->resp_cap) {
		size_t cap = c->resp_cap ? c->resp_cap : first_capacity(c->easy);
		while (cap < c->resp_len + n + 1)
			cap *= 2;
		char *p = realloc(c->resp, cap);
		if (p == NULL)
			return 0;
		c->resp = p;
		c->resp_cap = cap;
	}
	memcpy(c->resp + c->resp_len, data, n);
	c->resp_len += n;
	c->resp[c->resp_len] = '\0';
	return n;
}

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
	    cJSON_AddStringToObject(params, "aspectRatio", "1:1"))
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* The key is copied into libcurl's list and wiped from the stack at once. */
static int
set_headers(struct imagen_call *c, const struct config *cfg)
{
	char key[1024];
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (c->headers == NULL ||
	    snprintf(key, sizeof(key), "x-goog-api-key: %s", cfg->api_key) >= (int)sizeof(key))
		return -1;
	struct curl_slist *h = curl_slist_append(c->headers, key);
	explicit_bzero(key, sizeof(key));
	if (h == NULL)
		return -1;
	c->headers = h;
	return 0;
}

int
imagen_start(struct imagen_call *c, const struct config *cfg, const char *prompt)
{
	char url[2048];
	memset(c, 0, sizeof(*c));
	if (snprintf(url, sizeof(url), "%s/v1beta/models/%s:predict", cfg->imagen_url,
	    cfg->imagen_model) >= (int)sizeof(url))
		return -1;
	c->easy = curl_easy_init();
	c->body = request_body(prompt);
	if (c->easy == NULL || c->body == NULL || set_headers(c, cfg) != 0)
		return -1;
	CURL *e = c->easy;
	CURLcode rc = CURLE_OK;
	if ((rc = curl_easy_setopt(e, CURLOPT_URL, url)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https")) ||
	    (rc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, c)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_TIMEOUT, cfg->request_timeout)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, cfg->connect_timeout)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_USERAGENT, "imagegen/" PACKAGE_VERSION)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "")))
		return -1;
	return 0;
}

/* Google's errors carry {"error":{"message":...}}: the reason an operator needs. */
static void
http_error(long code, const char *body, size_t len, char *err, size_t errlen)
{
	cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
	if (cJSON_IsString(m))
		snprintf(err, errlen, "HTTP %ld: %.200s", code, m->valuestring);
	else
		snprintf(err, errlen, "HTTP %ld", code);
	cJSON_Delete(root);
}

int
imagen_parse(const char *body, size_t len, unsigned char **img, size_t *imglen,
    char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *preds = cJSON_GetObjectItemCaseSensitive(root, "predictions");
	const cJSON *first = cJSON_GetArrayItem(preds, 0);
	const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(first, "bytesBase64Encoded");
	const cJSON *why = cJSON_GetObjectItemCaseSensitive(first, "raiFilteredReason");
	int rc = -1;
	if (root == NULL)
		snprintf(err, errlen, "the response is not valid JSON");
	else if (!cJSON_IsArray(preds) || first == NULL)
		snprintf(err, errlen, "no image in the response (empty predictions)");
	else if (cJSON_IsString(why))
		snprintf(err, errlen, "filtered: %.200s", why->valuestring);
	else if (!cJSON_IsString(b64))
		snprintf(err, errlen, "no bytesBase64Encoded in the response");
	else if (codec_base64_decode(b64->valuestring, strlen(b64->valuestring), img,
	    imglen) != 0)
		snprintf(err, errlen, "invalid base64 in bytesBase64Encoded");
	else
		rc = 0;
	cJSON_Delete(root);
	return rc;
}

/* Worth another attempt: the network failed us, or the API said "not now". */
static int
transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

static int
transient_http(long code)
{
	return code == 408 || code == 429 || code == 500 || code == 502 || code == 503 ||
	    code == 504;
}

/*
 * retry_after_ms: what the server's Retry-After asked for (RFC 9110 10.2.3,
 * seconds or an HTTP-date: libcurl parses both), or 0.
 */
enum imagen_result
imagen_finish(struct imagen_call *c, CURLcode rc, unsigned char **img, size_t *len,
    long *retry_after_ms, char *err, size_t errlen)
{
	long code = 0;
	curl_off_t after = 0;
	*retry_after_ms = 0;
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", rc == CURLE_OPERATION_TIMEDOUT ? "request timed out"
		    : c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		return transient_curl(rc) ? IMAGEN_TRANSIENT : IMAGEN_FAILED;
	}
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		http_error(code, c->resp, c->resp_len, err, errlen);
		if (curl_easy_getinfo(c->easy, CURLINFO_RETRY_AFTER, &after) == CURLE_OK &&
		    after > 0)
			*retry_after_ms = after > 86400 ? 86400000L : (long)after * 1000;
		return transient_http(code) ? IMAGEN_TRANSIENT : IMAGEN_FAILED;
	}
	if (imagen_parse(c->resp ? c->resp : "", c->resp_len, img, len, err, errlen) != 0)
		return IMAGEN_FAILED;
	return IMAGEN_OK;
}

void
imagen_free(struct imagen_call *c)
{
	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->headers);
	free(c->body);
	free(c->resp);
	memset(c, 0, sizeof(*c));
}

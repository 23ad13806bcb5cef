/* casereq.c: parse and validate POST /api/generate-case-images bodies. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "casereq.h"
#include "codec.h"
#include "config.h"
#include "ssrf.h"

#define MAX_URL 2048

static const char *const list_names[] = { "evidence", "locations" };

const char *
casereq_kind_name(enum item_kind kind)
{
	return kind == KIND_EVIDENCE ? "evidence" : "location";
}

/* Ids become file names and URL segments: [A-Za-z0-9_-]{1,64}. */
int
casereq_valid_id(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return n >= 1 && n <= 64;
}

static int
reject(struct req_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
reject(struct req_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	snprintf(err->field, sizeof(err->field), "%s", field);
	return -1;
}

static int
get_string(const cJSON *obj, const char *key, const char *field, long max,
    char **out, struct req_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (v == NULL || cJSON_IsNull(v))
		return reject(err, field, "%s is required", field);
	if (!cJSON_IsString(v))
		return reject(err, field, "%s must be a string", field);
	if (max > 0 && strlen(v->valuestring) > (size_t)max)
		return reject(err, field, "%s is longer than %ld bytes", field, max);
	if (v->valuestring[0] == '\0')
		return reject(err, field, "%s must not be empty", field);
	*out = strdup(v->valuestring);
	if (*out == NULL)
		return reject(err, field, "out of memory");
	return 0;
}

static int
is_duplicate(const struct case_req *req, size_t upto, const char *id)
{
	for (size_t i = 0; i < upto; i++)
		if (strcmp(req->items[i].id, id) == 0)
			return 1;
	return 0;
}

static int
parse_item(const cJSON *obj, enum item_kind kind, size_t idx, const struct config *cfg,
    struct case_req *req, struct req_error *err)
{
	char field[96];
	struct item *it = &req->items[req->n_items];
	const char *list = list_names[kind];

	snprintf(field, sizeof(field), "%s[%zu]", list, idx);
	if (!cJSON_IsObject(obj))
		return reject(err, field, "%s must be an object", field);
	it->kind = kind;
	req->n_items++;	/* counted now so casereq_free releases a partial item */
	snprintf(field, sizeof(field), "%s[%zu].id", list, idx);
	if (get_string(obj, "id", field, 64, &it->id, err) != 0)
		return -1;
	if (!casereq_valid_id(it->id))
		return reject(err, field, "%s must match [A-Za-z0-9_-]{1,64}", field);
	if (is_duplicate(req, req->n_items - 1, it->id))
		return reject(err, field, "%s duplicates the id \"%s\"", field, it->id);
	snprintf(field, sizeof(field), "%s[%zu].name", list, idx);
	if (get_string(obj, "name", field, cfg->max_name, &it->name, err) != 0)
		return -1;
	snprintf(field, sizeof(field), "%s[%zu].description", list, idx);
	return get_string(obj, "description", field, cfg->max_description,
	    &it->description, err);
}

static int
parse_list(const cJSON *root, enum item_kind kind, const struct config *cfg,
    struct case_req *req, struct req_error *err)
{
	const char *list = list_names[kind];
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, list);
	if (arr == NULL)
		return reject(err, list, "%s is required", list);
	if (!cJSON_IsArray(arr))
		return reject(err, list, "%s must be an array", list);
	int n = cJSON_GetArraySize(arr);
	if (n == 0)
		return reject(err, list, "%s must not be empty", list);
	if (n > cfg->max_items)
		return reject(err, list, "%s has %d items, more than %ld", list, n,
		    cfg->max_items);
	const cJSON *el;
	size_t idx = 0;
	cJSON_ArrayForEach(el, arr) {
		if (parse_item(el, kind, idx++, cfg, req, err) != 0)
			return -1;
	}
	return 0;
}

/* libcurl's URL parser decides what a URL is, so we agree with the client that posts. */
static int
check_webhook_url(const struct config *cfg, const char *url, struct req_error *err)
{
	char why[128];
	int rc = -1;
	char *scheme = NULL, *host = NULL;
	CURLU *u = curl_url();
	if (u == NULL)
		return reject(err, "webhookUrl", "out of memory");
	if (strlen(url) > MAX_URL)
		reject(err, "webhookUrl", "webhookUrl is longer than %d bytes", MAX_URL);
	else if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		reject(err, "webhookUrl", "webhookUrl is not a valid URL");
	else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		reject(err, "webhookUrl", "webhookUrl must be http or https");
	else if (!ssrf_url_allowed(cfg, url, scheme, host, why, sizeof(why)))
		reject(err, "webhookUrl", "%s", why);
	else
		rc = 0;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static int
parse_webhook(const cJSON *root, const struct config *cfg, struct case_req *req,
    struct req_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "webhookUrl");
	if (v == NULL || cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
		return 0;
	if (!cJSON_IsString(v))
		return reject(err, "webhookUrl", "webhookUrl must be a string");
	if (check_webhook_url(cfg, v->valuestring, err) != 0)
		return -1;
	req->webhook_url = strdup(v->valuestring);
	return req->webhook_url == NULL ? reject(err, "webhookUrl", "out of memory") : 0;
}

/* The canonical form holds only the fields we keep, in a fixed order. */
static int
hash_request(struct case_req *req)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *lists[2] = { cJSON_AddArrayToObject(root, "evidence"),
	    cJSON_AddArrayToObject(root, "locations") };
	int ok = root != NULL && lists[0] != NULL && lists[1] != NULL &&
	    cJSON_AddStringToObject(root, "caseId", req->case_id) != NULL &&
	    cJSON_AddStringToObject(root, "webhookUrl",
	        req->webhook_url ? req->webhook_url : "") != NULL;
	for (size_t i = 0; ok && i < req->n_items; i++) {
		const struct item *it = &req->items[i];
		cJSON *o = cJSON_CreateObject();
		ok = o != NULL && cJSON_AddItemToArray(lists[it->kind], o) &&
		    cJSON_AddStringToObject(o, "id", it->id) != NULL &&
		    cJSON_AddStringToObject(o, "name", it->name) != NULL &&
		    cJSON_AddStringToObject(o, "description", it->description) != NULL;
	}
	char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
	cJSON_Delete(root);
	if (text == NULL)
		return -1;
	codec_sha256_hex(text, strlen(text), req->hash);
	cJSON_free(text);
	return 0;
}

static int
parse_root(const cJSON *root, const struct config *cfg, struct case_req *req,
    struct req_error *err)
{
	if (!cJSON_IsObject(root))
		return reject(err, "", "the body must be a JSON object");
	if (get_string(root, "caseId", "caseId", 64, &req->case_id, err) != 0)
		return -1;
	if (!casereq_valid_id(req->case_id))
		return reject(err, "caseId", "caseId must match [A-Za-z0-9_-]{1,64}");
	size_t cap = 2 * (size_t)cfg->max_items;
	req->items = calloc(cap, sizeof(*req->items));
	if (req->items == NULL)
		return reject(err, "", "out of memory");
	if (parse_list(root, KIND_EVIDENCE, cfg, req, err) != 0)
		return -1;
	req->n_evidence = req->n_items;
	if (parse_list(root, KIND_LOCATION, cfg, req, err) != 0)
		return -1;
	if (parse_webhook(root, cfg, req, err) != 0)
		return -1;
	if (hash_request(req) != 0)
		return reject(err, "", "out of memory");
	return 0;
}

int
casereq_parse(const char *body, size_t len, const struct config *cfg,
    struct case_req *req, struct req_error *err)
{
	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	cJSON *root = cJSON_ParseWithLength(body, len);
	if (root == NULL)
		return reject(err, "", "the body is not valid JSON");
	int rc = parse_root(root, cfg, req, err);
	cJSON_Delete(root);
	if (rc != 0)
		casereq_free(req);
	return rc;
}


void
casereq_free(struct case_req *req)
{
	for (size_t i = 0; i < req->n_items; i++) {
		free(req->items[i].id);
		free(req->items[i].name);
		free(req->items[i].description);
	}
	free(req->items);
	free(req->case_id);
	free(req->webhook_url);
	memset(req, 0, sizeof(*req));
}

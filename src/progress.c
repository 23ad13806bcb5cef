/* progress.c: parse an ImageProgressUpdate posted to /api/webhook/image-progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "casereq.h"
#include "progress.h"

static const char *const statuses[] = { "pending", "generating", "completed", "partial",
	"failed", NULL };

/* pending < generating < any final status: updates may only move forward. */
int
progress_status_rank(const char *status)
{
	for (int i = 0; statuses[i] != NULL; i++)
		if (strcmp(statuses[i], status) == 0)
			return i < 2 ? i : 2;
	return -1;
}

static int
get_count(const cJSON *root, const char *key, long *out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e6 ||
	    v->valuedouble != (double)(long)v->valuedouble) {
		snprintf(err, errlen, "%s must be a non-negative integer", key);
		return -1;
	}
	*out = (long)v->valuedouble;
	return 0;
}

static int
get_images(const cJSON *root, const char *key, struct progress_image **out, size_t *n,
    char *err, size_t errlen)
{
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, key), *el;
	if (obj == NULL || cJSON_IsNull(obj))
		return 0;
	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "%s must be an object of id: url", key);
		return -1;
	}
	*out = calloc((size_t)cJSON_GetArraySize(obj) + 1, sizeof(**out));
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cJSON_ArrayForEach(el, obj) {
		if (!casereq_valid_id(el->string) || !cJSON_IsString(el)) {
			snprintf(err, errlen, "%s must map ids to URL strings", key);
			return -1;
		}
		(*out)[*n].id = el->string;
		(*out)[(*n)++].url = el->valuestring;
	}
	return 0;
}

static int
get_failed(const cJSON *root, struct progress *p, char *err, size_t errlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "failedIds"), *el;
	if (arr == NULL || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr)) {
		snprintf(err, errlen, "failedIds must be an array of ids");
		return -1;
	}
	p->failed_ids = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(char *));
	if (p->failed_ids == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cJSON_ArrayForEach(el, arr) {
		if (!cJSON_IsString(el) || !casereq_valid_id(el->valuestring)) {
			snprintf(err, errlen, "failedIds must be an array of ids");
			return -1;
		}
		p->failed_ids[p->n_failed++] = el->valuestring;
	}
	return 0;
}

static int
parse_root(const cJSON *root, struct progress *p, char *err, size_t errlen)
{
	const cJSON *v;
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "the body must be a JSON object");
		return -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "caseId");
	if (!cJSON_IsString(v) || !casereq_valid_id(v->valuestring)) {
		snprintf(err, errlen, "caseId must match [A-Za-z0-9_-]{1,64}");
		return -1;
	}
	p->case_id = v->valuestring;
	v = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (!cJSON_IsString(v) || progress_status_rank(v->valuestring) < 1) {
		snprintf(err, errlen, "status must be generating, completed, partial or failed");
		return -1;
	}
	p->status = v->valuestring;
	if (get_count(root, "completedImages", &p->completed, err, errlen) != 0 ||
	    get_count(root, "totalImages", &p->total, err, errlen) != 0)
		return -1;
	/* Only checked: the counts stored are those of the rows (store_progress.c). */
	if (p->completed > p->total) {
		snprintf(err, errlen, "completedImages is more than totalImages");
		return -1;
	}
	if (get_images(root, "evidenceImages", &p->images[0], &p->n_images[0], err, errlen) ||
	    get_images(root, "locationImages", &p->images[1], &p->n_images[1], err, errlen))
		return -1;
	return get_failed(root, p, err, errlen);
}

int
progress_parse(const char *body, size_t len, struct progress *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	cJSON *root = cJSON_ParseWithLength(body, len);
	if (root == NULL) {
		snprintf(err, errlen, "the body is not valid JSON");
		return -1;
	}
	p->json = root;
	if (parse_root(root, p, err, errlen) != 0) {
		progress_free(p);
		return -1;
	}
	return 0;
}

void
progress_free(struct progress *p)
{
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < p->n_images[k]; i++) {
			free(p->images[k][i].stored);
			free(p->images[k][i].path);
			free(p->images[k][i].jpeg);
		}
	cJSON_Delete(p->json);
	free(p->images[0]);
	free(p->images[1]);
	free(p->failed_ids);
	memset(p, 0, sizeof(*p));
}

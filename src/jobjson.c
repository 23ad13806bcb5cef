/* jobjson.c: render a job and its images as the reference design's JSON. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "config.h"
#include "jobjson.h"
#include "log.h"
#include "media.h"
#include "picture.h"
#include "store.h"

#define MAX_DATA_FILE (16 * 1024 * 1024)

/* A picture's file, whole: as many bytes as it holds, at most MAX_DATA_FILE. */
static int
read_file(const char *path, unsigned char **buf, size_t *len)
{
	struct stat st;
	FILE *f = fopen(path, "rbe");
	if (f == NULL)
		return -1;
	*buf = NULL;
	int bad = fstat(fileno(f), &st) != 0 || st.st_size > MAX_DATA_FILE ||
	    (*buf = malloc((size_t)st.st_size + 1)) == NULL ||
	    (*len = fread(*buf, 1, (size_t)st.st_size + 1, f)) != (size_t)st.st_size ||
	    ferror(f);
	fclose(f);
	if (bad) {
		free(*buf);
		return -1;
	}
	return 0;
}

/* The reference returned images inline; some clients still need that. */
char *
jobjson_jpeg_url(const unsigned char *jpeg, size_t len)
{
	static const char prefix[] = "data:image/jpeg;base64,";
	char *b64 = codec_base64_encode(jpeg, len);
	char *url = b64 ? malloc(sizeof(prefix) + strlen(b64)) : NULL;
	if (url != NULL) {
		memcpy(url, prefix, sizeof(prefix) - 1);
		strcpy(url + sizeof(prefix) - 1, b64);
	}
	free(b64);
	return url;
}

char *
jobjson_data_url(const char *path)
{
	unsigned char *buf;
	size_t len;
	if (read_file(path, &buf, &len) != 0) {
		log_error("jobjson: read %s: %s", path, strerror(errno));
		return NULL;
	}
	char *url = jobjson_jpeg_url(buf, len);
	free(buf);
	return url;
}

/*
 * A worker keeps each image's data URL, and picture.c reads those kept in
 * the database; else the status route reads the file.
 */
static int
add_url(const struct config *cfg, cJSON *map, const struct image *im)
{
	if (cfg->image_urls == URLS_DATA && im->data != NULL)
		return cJSON_AddStringToObject(map, im->item_id, im->data) ? 0 : -1;
	if (cfg->image_urls != URLS_DATA || im->path == NULL)
		return cJSON_AddStringToObject(map, im->item_id, im->url) ? 0 : -1;
	char *data = jobjson_data_url(im->path);
	if (data == NULL)
		return -1;
	int rc = cJSON_AddStringToObject(map, im->item_id, data) ? 0 : -1;
	free(data);
	return rc;
}

/* evidenceImages, locationImages and failedIds: shared by both documents. */
static int
add_results(const struct config *cfg, cJSON *o, const struct image *images, size_t n)
{
	cJSON *maps[2] = { cJSON_AddObjectToObject(o, "evidenceImages"),
	    cJSON_AddObjectToObject(o, "locationImages") };
	cJSON *failed = cJSON_AddArrayToObject(o, "failedIds");
	if (maps[0] == NULL || maps[1] == NULL || failed == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct image *im = &images[i];
		if (strcmp(im->status, "completed") == 0 && im->url != NULL) {
			if (add_url(cfg, maps[im->kind], im) != 0)
				return -1;
		} else if (strcmp(im->status, "failed") == 0) {
			cJSON *id = cJSON_CreateString(im->item_id);
			if (id == NULL || !cJSON_AddItemToArray(failed, id))
				return -1;
		}
	}
	return 0;
}

static int
add_time(cJSON *o, const char *key, int64_t ms)
{
	if (ms == 0)
		return 0;
	return cJSON_AddNumberToObject(o, key, (double)ms) ? 0 : -1;
}

/* A string, or null when there is none. */
static int
add_opt(cJSON *o, const char *key, const char *value)
{
	return (value ? cJSON_AddStringToObject(o, key, value) : cJSON_AddNullToObject(o, key))
	    != NULL;
}

static int
add_items(cJSON *o, const struct image *images, size_t n)
{
	cJSON *lists[2] = { cJSON_AddArrayToObject(o, "evidence"),
	    cJSON_AddArrayToObject(o, "locations") };
	cJSON *all = cJSON_AddArrayToObject(o, "images");
	if (lists[0] == NULL || lists[1] == NULL || all == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct image *im = &images[i];
		cJSON *it = cJSON_CreateObject(), *st = cJSON_CreateObject();
		if (it == NULL || st == NULL || !cJSON_AddItemToArray(lists[im->kind], it) ||
		    !cJSON_AddItemToArray(all, st)) {
			cJSON_Delete(it);
			cJSON_Delete(st);
			return -1;
		}
		if (!cJSON_AddStringToObject(it, "id", im->item_id) ||
		    !cJSON_AddStringToObject(it, "name", im->name) ||
		    !cJSON_AddStringToObject(it, "description", im->description) ||
		    !cJSON_AddStringToObject(st, "id", im->item_id) ||
		    !cJSON_AddStringToObject(st, "kind", casereq_kind_name(im->kind)) ||
		    !cJSON_AddStringToObject(st, "status", im->status) ||
		    !cJSON_AddNumberToObject(st, "attempts", im->attempts) ||
		    !add_opt(st, "error", im->error) ||
		    !add_opt(st, "provider", im->provider) || !add_opt(st, "model", im->model))
			return -1;
	}
	return 0;
}

/*
 * What status cannot say without leaving the reference's five values:
 * queued/queuedAt while a pending job waits for a place under
 * max_inflight, cancelled/cancelledAt once a cancel was asked (the job
 * then ends partial or failed). Absent otherwise, as lastError is.
 */
static int
add_marks(cJSON *o, const struct job *job)
{
	if (job->queued_at != 0 && strcmp(job->status, "pending") == 0 &&
	    (!cJSON_AddTrueToObject(o, "queued") || add_time(o, "queuedAt", job->queued_at) != 0))
		return -1;
	if (job->cancelled_at != 0 && (!cJSON_AddTrueToObject(o, "cancelled") ||
	    add_time(o, "cancelledAt", job->cancelled_at) != 0))
		return -1;
	return 0;
}

/*
 * The ImageGenerationJob's own fields, shared by the status answer and the
 * list's summaries: 0, or -1 when cJSON ran out of memory.
 */
int
jobjson_head(void *obj, const struct job *job)
{
	cJSON *o = obj;
	int ok = cJSON_AddStringToObject(o, "caseId", job->case_id) &&
	    cJSON_AddStringToObject(o, "status", job->status) &&
	    add_time(o, "createdAt", job->created_at) == 0 &&
	    add_time(o, "startedAt", job->started_at) == 0 &&
	    add_time(o, "completedAt", job->completed_at) == 0 &&
	    cJSON_AddNumberToObject(o, "totalImages", job->total) &&
	    cJSON_AddNumberToObject(o, "completedImages", job->completed) &&
	    cJSON_AddNumberToObject(o, "failedImages", job->failed) &&
	    cJSON_AddNumberToObject(o, "retryCount", job->retry_count) &&
	    /* lastError?: string, as the reference has it: absent when there is none. */
	    (job->last_error == NULL ||
	        cJSON_AddStringToObject(o, "lastError", job->last_error)) &&
	    add_marks(o, job) == 0;
	return ok ? 0 : -1;
}

/* The ImageGenerationJob, plus the per-image list the reference lacked. */
void *
jobjson_status(const struct config *cfg, const struct job *job,
    const struct image *images, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	int ok = o != NULL && jobjson_head(o, job) == 0 &&
	    add_results(cfg, o, images, n) == 0 &&
	    add_items(o, images, n) == 0;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/*
 * The ImageProgressUpdate a worker posts to the caller's webhook, as the
 * outbox keeps it: each picture by its URL. With image_urls = data its
 * data goes in as the update is sent (jobjson_inline).
 */
char *
jobjson_progress(const struct config *cfg, const struct job *job,
    const struct image *images, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	struct config paths = *cfg;
	paths.image_urls = URLS_PATH;
	int ok = o != NULL &&
	    cJSON_AddStringToObject(o, "caseId", job->case_id) &&
	    cJSON_AddStringToObject(o, "status", job->status) &&
	    cJSON_AddNumberToObject(o, "completedImages", job->completed) &&
	    cJSON_AddNumberToObject(o, "totalImages", job->total) &&
	    add_results(&paths, o, images, n) == 0;
	char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return text;
}

/* One map's own pictures, given as their URLs, replaced by their data; *grown: the bytes more. */
static int
inline_map(const struct config *cfg, const char *case_id, cJSON *map, size_t *grown)
{
	struct media_path mp;
	cJSON *el;
	cJSON_ArrayForEach(el, map) {
		if (!cJSON_IsString(el) || media_path(cfg, case_id, el->string, &mp) != 0 ||
		    strcmp(el->valuestring, mp.url) != 0)
			continue;
		char *data = picture_data_url(cfg, case_id, el->string, mp.path);
		if (data == NULL)
			return -1;
		*grown += strlen(data) - strlen(el->valuestring);
		free(el->valuestring);	/* cJSON's default hooks: malloc and free */
		el->valuestring = data;
	}
	return 0;
}

/*
 * image_urls = data: an update as it is sent, each picture of the case
 * inline, read from its file (or the database) now. The outbox keeps the update with the
 * pictures' URLs, a few bytes each: the database, and a worker's memory
 * but for the one update being sent, never hold a case's pictures.
 * Returns a new string, or NULL (logged) when a file cannot be read.
 */
char *
jobjson_inline(const struct config *cfg, const char *case_id, const char *payload)
{
	static const char *const keys[2] = { "evidenceImages", "locationImages" };
	size_t grown = 0;
	char *text = NULL;
	cJSON *o = cJSON_Parse(payload);
	int ok = o != NULL;
	for (int k = 0; ok && k < 2; k++)
		ok = inline_map(cfg, case_id, cJSON_GetObjectItemCaseSensitive(o, keys[k]),
		    &grown) == 0;
	/* One buffer of the right size: printing into a growing one would double it. */
	size_t size = strlen(payload) + grown + 64;
	if (ok && size < INT_MAX && (text = malloc(size)) != NULL &&
	    !cJSON_PrintPreallocated(o, text, (int)size, 0)) {
		free(text);
		text = cJSON_PrintUnformatted(o);
	}
	cJSON_Delete(o);
	if (text == NULL)
		log_error("case %s: cannot put the pictures into the update", case_id);
	return text;
}

/* The short answer of generate, retry and cancel: {caseId, status, totalImages, statusUrl}. */
void *
jobjson_accepted(const struct config *cfg, const char *case_id, const char *status,
    long total)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", cfg->status_url, case_id);
	cJSON *o = cJSON_CreateObject();
	if (o == NULL || !cJSON_AddStringToObject(o, "caseId", case_id) ||
	    !cJSON_AddStringToObject(o, "status", status) ||
	    !cJSON_AddNumberToObject(o, "totalImages", (double)total) ||
	    !cJSON_AddStringToObject(o, "statusUrl", url)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/*
 * The answer of an action on a job (retry, cancel): jobjson_accepted for
 * the job as its row now stands, its retryCount, and key: value, which
 * this takes over. NULL, logged, when the row or the answer fails.
 */
void *
jobjson_accepted_job(const struct config *cfg, const char *case_id, const char *key,
    void *value)
{
	struct job job;
	cJSON *o = NULL;
	if (store_load(case_id, &job, NULL, NULL) == 1) {
		o = jobjson_accepted(cfg, case_id, job.status, job.total);
		if (o != NULL && !cJSON_AddNumberToObject(o, "retryCount", job.retry_count)) {
			cJSON_Delete(o);
			o = NULL;
		}
		store_free(&job, NULL, 0);
	}
	/* cJSON_AddItemToObject fails before it takes the item. */
	if (o == NULL || value == NULL || !cJSON_AddItemToObject(o, key, value)) {
		log_error("case %s: cannot build the reply", case_id);
		cJSON_Delete(value);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

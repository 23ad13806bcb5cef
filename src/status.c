/* status.c: GET /api/case-images/{caseId}, with an ETag so idle polling is cheap. */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "casereq.h"
#include "config.h"
#include "jobjson.h"
#include "picture.h"
#include "log.h"
#include "request.h"
#include "status.h"
#include "store.h"

/* found: 0, no such job; -1, the store failed. */
static void
not_found(struct request *r, int found)
{
	if (found == 0)
		reply_error(r, 404, "Job not found", NULL);
	else
		reply_error(r, 500, "internal error", NULL);
}

/*
 * The version moves on every change to the job or its images; the
 * creation time tells a job from one an operator deleted that had the
 * same id; the suffix keys the URL form.
 */
static void
make_etag(const struct request *r, int64_t version, int64_t created_at, char *etag,
    size_t len)
{
	snprintf(etag, len, "\"%" PRId64 "-%" PRId64 "%c\"", version, created_at,
	    r->cfg->image_urls == URLS_DATA ? 'd' : 'p');
}

/*
 * Answers already rendered, kept by each responder: pollers ask for the
 * same job again and again, and building its JSON costs more than all
 * the rest of a request. The ETag fixes the answer, so an entry is never
 * stale, only replaced; answers with data: URLs run to megabytes and are
 * not kept. The threads of a responder on PostgreSQL poll at once: the
 * cache has a lock of its own, held only to look or to store.
 */
#define CACHE_SLOTS 64
#define CACHE_MAX_BODY (64 * 1024)

struct answer {
	char *case_id;
	char etag[64];
	char *body;
	size_t len;
};
static struct answer cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static struct answer *
slot_for(const char *case_id)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)case_id; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return &cache[h % CACHE_SLOTS];
}

/* A copy of the answer kept for this ETag (the caller frees it), or NULL. */
static char *
cached(const char *case_id, const char *etag, size_t *len)
{
	char *body = NULL;
	pthread_mutex_lock(&cache_lock);
	const struct answer *a = slot_for(case_id);
	if (a->case_id != NULL && strcmp(a->case_id, case_id) == 0 &&
	    strcmp(a->etag, etag) == 0 && (body = malloc(a->len > 0 ? a->len : 1)) != NULL) {
		memcpy(body, a->body, a->len);
		*len = a->len;
	}
	pthread_mutex_unlock(&cache_lock);
	return body;
}

/* Takes the body; a failed copy only means the next poll renders again. */
static void
keep(const char *case_id, const char *etag, char *body, size_t len)
{
	if (len > CACHE_MAX_BODY) {
		free(body);
		return;
	}
	pthread_mutex_lock(&cache_lock);
	struct answer *a = slot_for(case_id);
	free(a->case_id);
	free(a->body);
	a->case_id = strdup(case_id);
	a->body = body;
	a->len = len;
	snprintf(a->etag, sizeof(a->etag), "%s", etag);
	if (a->case_id == NULL) {
		free(a->body);
		a->body = NULL;
	}
	pthread_mutex_unlock(&cache_lock);
}

/* 200 with the body, or 304 with none: the same validators either way. */
static void
send_answer(struct request *r, int code, const char *etag, const char *body, size_t len)
{
	char headers[128];
	snprintf(headers, sizeof(headers), "ETag: %s\r\nCache-Control: no-cache\r\n", etag);
	reply(r, code, headers, body, len);
}

/* The JSON text with a newline, as reply_json sends it; NULL when out of memory. */
static char *
render(const struct config *cfg, const struct job *job, const struct image *images,
    size_t n, size_t *len)
{
	cJSON *o = jobjson_status(cfg, job, images, n);
	char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (text == NULL)
		return NULL;
	*len = strlen(text);
	text[(*len)++] = '\n';	/* in place of the NUL: cJSON's buffer has room */
	return text;
}

static void
send_job(struct request *r, const char *case_id)
{
	struct job job;
	struct image *images;
	size_t n, len = 0;
	char etag[64];

	int found = store_load(case_id, &job, &images, &n);
	if (found <= 0) {
		not_found(r, found);
		return;
	}
	make_etag(r, job.version, job.created_at, etag, sizeof(etag));
	picture_data_urls(r->cfg, case_id, images, n);
	char *text = render(r->cfg, &job, images, n, &len);
	if (text == NULL) {
		log_error("case %s: cannot build the status", case_id);
		reply_error(r, 500, "internal error", NULL);
	} else {
		send_answer(r, 200, etag, text, len);
		keep(case_id, etag, text, len);
	}
	store_free(&job, images, n);
}

/* One SELECT by primary key decides: 304, an answer already rendered, or a new one. */
void
status_handle(struct request *r, const char *case_id)
{
	int64_t version, created_at;
	char etag[64];

	if (!casereq_valid_id(case_id)) {
		reply_error(r, 404, "Job not found", NULL);
		return;
	}
	int found = store_version(case_id, &version, &created_at);
	if (found <= 0) {
		not_found(r, found);
		return;
	}
	make_etag(r, version, created_at, etag, sizeof(etag));
	if (request_etag_matches(r, etag)) {
		send_answer(r, 304, etag, NULL, 0);
		return;
	}
	size_t len = 0;
	char *body = cached(case_id, etag, &len);
	if (body != NULL)
		send_answer(r, 200, etag, body, len);
	else
		send_job(r, case_id);
	free(body);
}

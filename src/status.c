/* status.c: GET /api/case-images/{caseId}, with an ETag so idle polling is cheap. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "casereq.h"
#include "config.h"
#include "jobjson.h"
#include "log.h"
#include "request.h"
#include "status.h"
#include "store.h"

/* The version moves on every change to the job or its images; the suffix keys the URL form. */
static void
make_etag(const struct request *r, int64_t version, char *etag, size_t len)
{
	snprintf(etag, len, "\"%" PRId64 "%c\"", version,
	    r->cfg->image_urls == URLS_DATA ? 'd' : 'p');
}

/* RFC 9110 13.1.2: a list of entity tags, or "*"; weak tags compare weakly. */
static int
etag_matches(const char *header, const char *etag)
{
	if (header == NULL)
		return 0;
	if (strcmp(header, "*") == 0)
		return 1;
	size_t n = strlen(etag);
	for (const char *p = header; (p = strstr(p, etag)) != NULL; p += n) {
		char after = p[n];
		if (after == '\0' || after == ',' || after == ' ')
			return 1;
	}
	return 0;
}

static void
send_job(struct request *r, const char *case_id)
{
	struct job job;
	struct image *images;
	size_t n;
	char etag[48], headers[128];

	int found = store_load(case_id, &job, &images, &n);
	if (found <= 0) {
		if (found == 0)
			reply_error(r, 404, "Job not found", NULL);
		else
			reply_error(r, 500, "internal error", NULL);
		return;
	}
	make_etag(r, job.version, etag, sizeof(etag));
	snprintf(headers, sizeof(headers), "ETag: %s\r\nCache-Control: no-cache\r\n", etag);
	cJSON *o = jobjson_status(r->cfg, &job, images, n);
	if (o == NULL) {
		log_error("case %s: cannot build the status", case_id);
		reply_error(r, 500, "internal error", NULL);
	} else {
		reply_json(r, 200, headers, o);
	}
	cJSON_Delete(o);
	store_free(&job, images, n);
}

void
status_handle(struct request *r, const char *case_id)
{
	int64_t version;
	char etag[48], headers[128];

	if (!casereq_valid_id(case_id)) {
		reply_error(r, 404, "Job not found", NULL);
		return;
	}
	if (r->if_none_match != NULL) {
		int found = store_version(case_id, &version);
		if (found < 0) {
			reply_error(r, 500, "internal error", NULL);
			return;
		}
		make_etag(r, version, etag, sizeof(etag));
		if (found == 1 && etag_matches(r->if_none_match, etag)) {
			snprintf(headers, sizeof(headers),
			    "ETag: %s\r\nCache-Control: no-cache\r\n", etag);
			reply(r, 304, headers, NULL, 0);
			return;
		}
	}
	send_job(r, case_id);
}

/*
 * picture.c: GET and HEAD /media/{caseId}/{itemId}.jpg, a picture kept in
 * the database (media_store = database), at the URL nginx serves from
 * media_dir otherwise: every host serves every picture. Its ETag is its
 * SHA-256 and it never changes, so caches (nginx's fastcgi_cache, the
 * browser's) keep it for a year and revalidate with a 304.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casereq.h"
#include "config.h"
#include "jobjson.h"
#include "log.h"
#include "picture.h"
#include "request.h"
#include "store.h"
#include "store_media.h"

#define CACHE_CONTROL "Cache-Control: public, max-age=31536000, immutable\r\n"

/* rest is "{caseId}/{itemId}": 0 with both split out, -1 if it is not. */
static int
split(const char *rest, char case_id[65], char item_id[65])
{
	const char *slash = strchr(rest, '/');
	size_t n = slash != NULL ? (size_t)(slash - rest) : 0;
	if (slash == NULL || n == 0 || n > 64 || strlen(slash + 1) > 64)
		return -1;
	memcpy(case_id, rest, n);
	case_id[n] = '\0';
	snprintf(item_id, 65, "%s", slash + 1);
	return casereq_valid_id(case_id) && casereq_valid_id(item_id) ? 0 : -1;
}

static void
not_found(struct request *r, int found)
{
	if (found < 0)
		reply_error(r, 500, "internal error", NULL);
	else
		reply_error(r, 404, "Not found", NULL);
}

void
picture_handle(struct request *r, const char *rest)
{
	char case_id[65], item_id[65], etag[80], headers[256];
	struct media_row m;
	if (split(rest, case_id, item_id) != 0) {
		reply_error(r, 404, "Not found", NULL);
		return;
	}
	int found = store_media_tag(case_id, item_id, m.sha256);
	if (found <= 0) {
		not_found(r, found);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", m.sha256);
	snprintf(headers, sizeof(headers), "ETag: %s\r\n" CACHE_CONTROL, etag);
	if (request_etag_matches(r, etag)) {
		reply(r, 304, headers, NULL, 0);
		return;
	}
	if ((found = store_media_get(case_id, item_id, &m)) <= 0) {
		not_found(r, found);
		return;
	}
	reply_typed(r, 200, "image/jpeg", headers, (const char *)m.jpeg, m.len);
	free(m.jpeg);
}

/*
 * A completed picture as a data URL: from the database with media_store =
 * database, else from its file at path. NULL, logged, when it is not there.
 */
char *
picture_data_url(const struct config *cfg, const char *case_id, const char *item_id,
    const char *path)
{
	struct media_row m;
	if (!cfg->media_in_db)
		return path != NULL ? jobjson_data_url(path) : NULL;
	char *url = store_media_get(case_id, item_id, &m) == 1 ?
	    jobjson_jpeg_url(m.jpeg, m.len) : NULL;
	if (url == NULL)
		log_error("case %s: image %s: its picture is not in the database", case_id,
		    item_id);
	free(m.jpeg);
	return url;
}

/* The status route's data URLs, when the images' rows name no file to read. */
void
picture_data_urls(const struct config *cfg, const char *case_id, struct image *images,
    size_t n)
{
	for (size_t i = 0; cfg->image_urls == URLS_DATA && cfg->media_in_db &&
	    i < n; i++) {
		struct image *im = &images[i];
		if (im->data == NULL && strcmp(im->status, "completed") == 0)
			im->data = picture_data_url(cfg, case_id, im->item_id, NULL);
	}
}

/*
 * store_media.c: the pictures of media_store = database (migration 21),
 * written by store_worker.c with their image's row, read here for the
 * picture route and for data URLs. The ETag is the picture's SHA-256, so
 * a revalidation reads 64 bytes, not the picture.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "store.h"
#include "store_int.h"
#include "store_media.h"

static const char PUT[] =
    "INSERT INTO media (case_id, item_id, jpeg, sha256, created_at) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (case_id, item_id) DO UPDATE SET jpeg = excluded.jpeg,"
    " sha256 = excluded.sha256, created_at = excluded.created_at";
static const char TAG[] = "SELECT sha256 FROM media WHERE case_id = $1 AND item_id = $2";
static const char GET[] =
    "SELECT sha256, jpeg FROM media WHERE case_id = $1 AND item_id = $2";

static struct sstmt *
lookup(const char *sql, const char *case_id, const char *item_id)
{
	struct sstmt *s = store_stmt(sql);
	if (s != NULL) {
		sbind_text(s, 1, case_id);
		sbind_text(s, 2, item_id);
	}
	return s;
}

/*
 * Inside the caller's transaction, with its image's row: the picture and
 * its SHA-256. 0, or -1 on error.
 */
int
store_media_put(const char *case_id, const char *item_id, const unsigned char *jpeg,
    size_t len, int64_t now)
{
	char sha[65];
	struct sstmt *s = store_stmt(PUT);
	if (s == NULL)
		return -1;
	codec_sha256_hex(jpeg, len, sha);
	sbind_text(s, 1, case_id);
	sbind_text(s, 2, item_id);
	store_engine()->bind_blob(s, 3, jpeg, len);
	sbind_text(s, 4, sha);
	sbind_int(s, 5, now);
	return store_exec_done(s, "store the picture");
}

/* 1 with the picture's SHA-256, 0 for none, -1 on error. */
int
store_media_tag(const char *case_id, const char *item_id, char sha256[65])
{
	struct sstmt *s = lookup(TAG, case_id, item_id);
	if (s == NULL)
		return -1;
	enum sstep rc = store_next(s, "a picture's tag");
	if (rc == SS_ROW)
		scol_copy(s, 0, sha256, 65);
	store_done(s);
	return rc == SS_ROW ? 1 : rc == SS_DONE ? 0 : -1;
}

/* 1 with the picture (the caller frees m->jpeg), 0 for none, -1 on error. */
int
store_media_get(const char *case_id, const char *item_id, struct media_row *m)
{
	struct sstmt *s = lookup(GET, case_id, item_id);
	memset(m, 0, sizeof(*m));
	if (s == NULL)
		return -1;
	enum sstep rc = store_next(s, "a picture");
	if (rc == SS_ROW) {
		size_t len;
		const void *b = store_engine()->col_blob(s, 1, &len);
		scol_copy(s, 0, m->sha256, sizeof(m->sha256));
		if ((m->jpeg = malloc(len > 0 ? len : 1)) == NULL)
			rc = SS_ERROR;
		else if (len > 0)
			memcpy(m->jpeg, b, len);
		m->len = len;
	}
	store_done(s);
	return rc == SS_ROW ? 1 : rc == SS_DONE ? 0 : -1;
}

/*
 * dataimage.c: a picture that a progress update sends inline, as a data:
 * URL, is not kept in the database (every status poll would carry it):
 * it is decoded, checked to be image_size square, compressed as a local
 * worker's would be, and written under media_dir, where nginx serves it.
 * Its name holds a hash of what was sent, {itemId}-{hash}.jpg: a URL never
 * names other bytes later, and never the name a local worker writes. With
 * media_store = database the picture goes in the table media instead, at
 * the image's own URL, with its row (store_progress.c): an image once
 * completed is never written again, so that URL too names one picture.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "dataimage.h"
#include "image.h"
#include "imageurl.h"
#include "log.h"
#include "media.h"
#include "progress.h"
#include "store_media.h"

/* The picture, decoded, checked and compressed: 1, 0 refused (err says why), -1 failed. */
static int
compress_one(const struct config *cfg, const struct progress_image *im, unsigned char **jpeg,
    size_t *jlen, char *err, size_t errlen)
{
	unsigned char *raw = NULL;
	size_t len = 0, w, h;
	int rc = 0;
	*jpeg = NULL;
	if (imageurl_data(im->url, &raw, &len, err, errlen) != 0)
		return 0;
	if (image_dimensions(raw, len, &w, &h) != 0)
		snprintf(err, errlen, "is not a PNG, JPEG or WebP picture");
	else if (w != (size_t)cfg->image_size || h != (size_t)cfg->image_size)
		snprintf(err, errlen, "is %zux%zu, not the %ldx%ld of image_size", w, h,
		    cfg->image_size, cfg->image_size);
	else if (image_compress(raw, len, cfg->image_size, cfg->image_quality, jpeg, jlen,
	    err, errlen) == 0)
		rc = 1;
	free(raw);
	return rc;
}

/* media_store = database: kept for the update's transaction, unless it is there. */
static int
store_in_db(const struct config *cfg, const char *case_id, struct progress_image *im,
    char *err, size_t errlen)
{
	struct media_path mp;
	char sha[65];
	int there = store_media_tag(case_id, im->id, sha);
	if (media_path(cfg, case_id, im->id, &mp) != 0 || there < 0) {
		snprintf(err, errlen, there < 0 ? "the database failed" : "media path too long");
		return -1;
	}
	int rc = there == 1 ? 1 : compress_one(cfg, im, &im->jpeg, &im->jpeg_len, err, errlen);
	if (rc == 1 && (im->stored = strdup(mp.url)) == NULL)
		rc = -1;
	return rc;
}

/* 1: the picture is good for image_size; 0: refused (err says why); -1: failed. */
static int
store_one(const struct config *cfg, const char *case_id, struct progress_image *im,
    char *err, size_t errlen)
{
	if (cfg->media_in_db)
		return store_in_db(cfg, case_id, im, err, errlen);
	char hash[65], name[128];
	struct media_path mp;
	unsigned char *jpeg = NULL;
	size_t jlen = 0;
	codec_sha256_hex(im->url, strlen(im->url), hash);
	snprintf(name, sizeof(name), "%s-%.10s", im->id, hash);	/* fits media_path's name */
	if (media_path(cfg, case_id, name, &mp) != 0) {
		snprintf(err, errlen, "media path too long");
		return -1;
	}
	if (media_finished_size(&mp) > 0)
		goto keep;	/* sent before: updates repeat every image so far */
	int rc = compress_one(cfg, im, &jpeg, &jlen, err, errlen);
	if (rc == 1 && image_write(mp.dir, mp.name, jpeg, jlen, err, errlen) != 0) {
		log_error("case %s: image %s: %s", case_id, im->id, err);
		rc = -1;
	}
	free(jpeg);
	if (rc != 1)
		return rc;
keep:
	im->stored = strdup(mp.url);
	im->path = strdup(mp.path);
	return im->stored != NULL && im->path != NULL ? 1 : -1;
}

static int magick_ok;

/* The responder starts ImageMagick only for the first update that needs it. */
static void
magick_start(void)
{
	magick_ok = image_init() == 0;
	if (!magick_ok)
		log_error("image: cannot set ImageMagick's resource limits");
}

/*
 * Stores every data: URL of the update; returns 0, 1 when one is refused
 * (field and err name it), -1 when the disk failed.
 */
int
dataimage_store(const struct config *cfg, struct progress *p, char *field, size_t fieldlen,
    char *err, size_t errlen)
{
	static const char *const maps[2] = { "evidenceImages", "locationImages" };
	char why[256];
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < p->n_images[k]; i++) {
			struct progress_image *im = &p->images[k][i];
			if (strncmp(im->url, "data:", 5) != 0)
				continue;
			static pthread_once_t once = PTHREAD_ONCE_INIT;
			if (pthread_once(&once, magick_start) != 0 || !magick_ok)
				return -1;
			int rc = store_one(cfg, p->case_id, im, why, sizeof(why));
			if (rc == 1)
				continue;
			snprintf(field, fieldlen, "%s.%s", maps[k], im->id);
			snprintf(err, errlen, "%s %s", field, why);
			return rc < 0 ? -1 : 1;
		}
	return 0;
}

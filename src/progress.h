/* progress.h: the reference's ImageProgressUpdate, parsed and validated. */
#ifndef IMAGEGEN_PROGRESS_H
#define IMAGEGEN_PROGRESS_H

#include <stddef.h>

struct casereq_error;

struct progress_image {
	const char *id;
	const char *url;	/* as sent, or *stored */
	char *stored;		/* a data: URL's picture, as a file of ours: its URL */
	char *path;		/* ... and its path under media_dir */
	unsigned char *jpeg;	/* ... or, media_store = database, the picture itself */
	size_t jpeg_len;
};

struct progress {
	void *json;		/* owns every string below */
	const char *case_id;
	const char *status;	/* generating, completed, partial or failed */
	long completed;
	long total;
	struct progress_image *images[2];	/* evidence, locations */
	size_t n_images[2];
	const char **failed_ids;
	size_t n_failed;
};

int  progress_parse(const char *body, size_t len, struct progress *p,
	char *err, size_t errlen);
void progress_free(struct progress *p);
int  progress_status_rank(const char *status);

#endif

/* imageurl.h: what an image URL in a progress update may be. */
#ifndef IMAGEGEN_IMAGEURL_H
#define IMAGEGEN_IMAGEURL_H

#include <stddef.h>

struct config;

/* The largest picture a data: URL may hold, decoded: 2 MiB. */
#define IMAGEURL_DATA_MAX (2 * 1024 * 1024)

enum imageurl { IMAGEURL_BAD = -1, IMAGEURL_MEDIA, IMAGEURL_REMOTE, IMAGEURL_DATA };

enum imageurl imageurl_check(const struct config *cfg, const char *case_id,
	const char *url, char *err, size_t errlen);
int  imageurl_data(const char *url, unsigned char **out, size_t *len, char *err,
	size_t errlen);

#endif

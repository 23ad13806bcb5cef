/* picture.h: the picture route, for media_store = database. */
#ifndef IMAGEGEN_PICTURE_H
#define IMAGEGEN_PICTURE_H

#include <stddef.h>

struct config;
struct image;
struct request;

void picture_handle(struct request *r, const char *rest);
char *picture_data_url(const struct config *cfg, const char *case_id, const char *item_id,
	const char *path);
void picture_data_urls(const struct config *cfg, const char *case_id, struct image *images,
	size_t n);

#endif

/* store_media.h: the pictures kept in the database (media_store = database). */
#ifndef IMAGEGEN_STORE_MEDIA_H
#define IMAGEGEN_STORE_MEDIA_H

#include <stddef.h>
#include <stdint.h>

struct media_row {
	unsigned char *jpeg;	/* the caller frees it */
	size_t len;
	char sha256[65];
};

int store_media_put(const char *case_id, const char *item_id, const unsigned char *jpeg,
	size_t len, int64_t now);
int store_media_tag(const char *case_id, const char *item_id, char sha256[65]);
int store_media_get(const char *case_id, const char *item_id, struct media_row *m);

#endif

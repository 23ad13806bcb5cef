/* dataimage.h: a progress update's data: URLs, stored as files of ours. */
#ifndef IMAGEGEN_DATAIMAGE_H
#define IMAGEGEN_DATAIMAGE_H

#include <stddef.h>

struct config;
struct progress;

int dataimage_store(const struct config *cfg, struct progress *p, char *field,
	size_t fieldlen, char *err, size_t errlen);

#endif

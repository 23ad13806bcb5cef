/* shrink.h: a PNG decoded and shrunk by a whole factor in one pass. */
#ifndef IMAGEGEN_SHRINK_H
#define IMAGEGEN_SHRINK_H

#include <stddef.h>

int shrink_png(const unsigned char *in, size_t len, long size, unsigned char **rgb,
	size_t *width, size_t *height, char *err, size_t errlen);

#endif

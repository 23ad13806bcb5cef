/* image.h: the image step: decode, cover-crop, compress to JPEG, write atomically. */
#ifndef IMAGEGEN_IMAGE_H
#define IMAGEGEN_IMAGE_H

#include <stddef.h>

/*
 * What the pictures a process decodes at once may take together (image.c):
 * imagegen(8) documents it, with the worker's cap.
 */
#define IMAGE_DECODE_BUDGET ((size_t)96 << 20)

int  image_init(void);
void image_done(void);
int  image_dimensions(const unsigned char *in, size_t len, size_t *width, size_t *height);
int  image_compress(const unsigned char *in, size_t len, long size, long quality,
	unsigned char **out, size_t *outlen, char *err, size_t errlen);
int  image_write(const char *dir, const char *name, const unsigned char *data,
	size_t len, char *err, size_t errlen);

#endif

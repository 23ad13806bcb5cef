/* decodecost.h: what decoding a picture will take, read from its header. */
#ifndef IMAGEGEN_DECODECOST_H
#define IMAGEGEN_DECODECOST_H

#include <stddef.h>

struct decode_header {
	size_t width, height;
	int components;
	int multiscan;		/* progressive, or a first scan without every component */
	size_t coefficients;	/* bytes libjpeg holds for a multi-scan JPEG, else 0 */
};

int    decodecost_jpeg(const unsigned char *in, size_t len, struct decode_header *h);
size_t decodecost_bytes(const char *format, const struct decode_header *h, long size,
	int shrunk);

#endif

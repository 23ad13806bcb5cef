/* compress.h: the image step on threads of its own, off the worker's event loop. */
#ifndef IMAGEGEN_COMPRESS_H
#define IMAGEGEN_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "media.h"

/* One picture to compress and write; the pool fills in the outcome. */
struct compress_task {
	size_t idx;			/* the worker's image */
	long api_ms;			/* carried through for the record */
	unsigned char *in;		/* the provider's bytes: the pool frees them */
	size_t in_len;
	struct media_path mp;		/* where the JPEG goes */
	/* Outcome: */
	int rc;				/* 0 written, -1 failed */
	int err_no;			/* errno of a failed write, else 0 */
	unsigned char *out;		/* the JPEG written: the worker frees it */
	size_t out_len;
	char err[512];
	struct compress_task *next;
};

struct compressor;

struct compressor   *compressor_new(int threads, long size, long quality);
int                  compressor_submit(struct compressor *c, struct compress_task *t);
int                  compressor_fd(const struct compressor *c);
struct compress_task *compressor_take(struct compressor *c);
int                  compressor_threads(long concurrency);
long                 compressor_cpu_ms(struct compressor *c);
void                 compressor_free(struct compressor *c);

#endif

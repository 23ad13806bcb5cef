/* bench/slurp.h: a whole file into memory, for the benchmark programs. */
#ifndef IMAGEGEN_BENCH_SLURP_H
#define IMAGEGEN_BENCH_SLURP_H

#include <stdio.h>
#include <stdlib.h>

/* The file's bytes, malloc'd, or NULL when it cannot be read whole. */
static inline unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n = 0;
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (f != NULL)
		fclose(f);
	*len = (size_t)n;
	return buf;
}

#endif

/*
 * bench/compress.c: imagegen's image step (src/image.c, the very code the
 * worker runs) on one input, N times. Prints the median milliseconds per
 * image, the output's bytes and its chroma subsampling factors.
 *
 * Usage: compress INPUT OUTPUT.jpg [N]
 */
#include <stdio.h>
#include <stdlib.h>

#include "image.h"
#include "slurp.h"
#include "timing.h"

int
main(int argc, char **argv)
{
	size_t len, outlen = 0;
	unsigned char *in = argc >= 3 ? slurp(argv[1], &len) : NULL, *out = NULL;
	int n = argc > 3 ? atoi(argv[3]) : 30;
	double *t = calloc((size_t)(n > 0 ? n : 1), sizeof(*t));
	char err[512];
	if (in == NULL || t == NULL || n < 1 || image_init() != 0) {
		fprintf(stderr, "usage: compress INPUT OUTPUT.jpg [N]\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		free(out);
		double start = now_ms();
		if (image_compress(in, len, 512, 80, &out, &outlen, err, sizeof(err)) != 0) {
			fprintf(stderr, "compress: %s\n", err);
			return 1;
		}
		t[i] = now_ms() - start;
	}
	FILE *f = fopen(argv[2], "wb");
	if (f == NULL || fwrite(out, 1, outlen, f) != outlen || fclose(f) != 0)
		return 1;
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("ms=%.2f\nbytes=%zu\n", t[n / 2], outlen);
	free(out);
	free(in);
	free(t);
	image_done();
	return 0;
}

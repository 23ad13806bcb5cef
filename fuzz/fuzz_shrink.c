/* fuzz_shrink.c: the PNG decoder that shrinks as it reads (libpng driven by our code). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "shrink.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *rgb = NULL;
	size_t w = 0, h = 0;
	char err[256];
	/* Sides of 8 and 16 divide the seeds' 32, 48 and 64: the pixel paths run. */
	for (long target = 8; target <= 16; target += 8) {
		if (shrink_png(data, size, target, &rgb, &w, &h, err, sizeof(err)) == 1)
			free(rgb);
		rgb = NULL;
	}
	return 0;
}

/* fuzz_imagen.c: the image API's response parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "imagen.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *img = NULL;
	size_t len = 0;
	char err[256];
	if (imagen_parse((const char *)data, size, &img, &len, err, sizeof(err)) == 0)
		free(img);
	return 0;
}

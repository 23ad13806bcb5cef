/* fuzz_progress.c: the webhook payload parser, behind the raw-body checks. */
#include <stddef.h>
#include <stdint.h>

#include "input.h"
#include "progress.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct progress p;
	char err[256];
	if (input_check((const char *)data, size, 8, err, sizeof(err)) == 0 &&
	    progress_parse((const char *)data, size, &p, err, sizeof(err)) == 0)
		progress_free(&p);
	return 0;
}

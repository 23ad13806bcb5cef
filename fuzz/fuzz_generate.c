/* fuzz_generate.c: the generate request's parser and validator. */
#include <stddef.h>
#include <stdint.h>

#include "casereq.h"
#include "config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static int ready;
	struct case_req req;
	struct req_error err;
	if (!ready) {
		config_defaults(&cfg);
		ready = 1;
	}
	if (casereq_parse((const char *)data, size, &cfg, &req, &err) == 0)
		casereq_free(&req);
	return 0;
}

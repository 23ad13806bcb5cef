/*
 * fuzz_answer.c: what the image providers answer, through the provider
 * table: each provider's parser of a 200's body, of an error's body, and
 * of its model list, on the fuzzer's bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "provider.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static int ready;
	const struct provider *ps[] = { &provider_gemini, &provider_openai };
	struct provider_answer a;
	struct provider_listing l;
	if (!ready) {
		config_defaults(&cfg);
		ready = 1;
	}
	/* The first byte picks the provider and an HTTP status: every path is reached. */
	const struct provider *p = ps[size > 0 ? data[0] & 1 : 0];
	long code = size > 0 ? 400 + (data[0] >> 1) : 500;
	const char *body = size > 0 ? (const char *)data + 1 : "";
	size_t len = size > 0 ? size - 1 : 0;
	provider_answer_init(&a);
	p->parse(body, len, &a);
	free(a.img);
	provider_answer_init(&a);
	p->error(&cfg, "m", code, body, len, &a);
	free(a.img);
	p->list_model(body, len, "m", &l);
	return 0;
}

/* google.h: google.rpc.Status errors, shared by the Gemini and Imagen clients. */
#ifndef IMAGEGEN_GOOGLE_H
#define IMAGEGEN_GOOGLE_H

#include <stddef.h>

struct config;
struct provider;
struct provider_answer;

void google_error(const struct provider *p, const struct config *cfg, long code,
	const char *body, size_t len, struct provider_answer *a);

#endif

/* google.h: google.rpc.Status errors, as Google's APIs send them. */
#ifndef IMAGEGEN_GOOGLE_H
#define IMAGEGEN_GOOGLE_H

#include <stddef.h>

struct provider;
struct provider_answer;

void google_error(const struct provider *p, const char *model, long code, const char *body,
	size_t len, struct provider_answer *a);

#endif

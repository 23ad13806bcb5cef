/*
 * fuzz_verify.c: the webhook signature verifier. The input is split on
 * newlines into webhook-id, webhook-timestamp, webhook-signature and body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const secrets[] = { "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" };
	char *buf = malloc(size + 1), *part[4] = { NULL, NULL, NULL, NULL }, *p;
	const char *why;
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	p = buf;
	for (int i = 0; i < 3 && p != NULL; i++) {
		part[i] = p;
		p = strchr(p, '\n');
		if (p != NULL)
			*p++ = '\0';
	}
	part[3] = p ? p : "";
	if (part[2] != NULL)
		sign_verify(secrets, 1, part[0], part[1], part[2], part[3], strlen(part[3]),
		    1614265330LL, &why);
	free(buf);
	return 0;
}

/* placeholder.h: the offline provider: a distinct picture per prompt, no network. */
#ifndef IMAGEGEN_PLACEHOLDER_H
#define IMAGEGEN_PLACEHOLDER_H

#include <stddef.h>

int placeholder_render(const char *prompt, long size, unsigned char **png, size_t *len,
	char *err, size_t errlen);

#endif

/* auth.h: bearer tokens for the routes that spend money or change jobs. */
#ifndef IMAGEGEN_AUTH_H
#define IMAGEGEN_AUTH_H

#include <stddef.h>

struct config;

int  auth_load(const struct config *cfg, char *err, size_t errlen);
int  auth_check(const char *authorization);
void auth_free(void);

#endif

/* urlmatch.h: URLs judged as libcurl parses them, against allowlists parsed the same way. */
#ifndef IMAGEGEN_URLMATCH_H
#define IMAGEGEN_URLMATCH_H

#include <stddef.h>

int urlmatch_allowed(const char *list, const char *url);
int urlmatch_allowed_as_is(const char *list, const char *url);
int urlmatch_userinfo(const char *url);
int urlmatch_list_valid(const char *list, char *err, size_t errlen);
int urlmatch_plain(const char *url, char *err, size_t errlen);

#endif

/*
 * input.c: every body is hostile until shown otherwise. Before a JSON body
 * is parsed it must be valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF; RFC 8259 8.1) and nest objects and
 * arrays no deeper than max_depth, which keeps the parser's recursion small,
 * and hold no NUL, raw or escaped as \u0000, which C strings cannot carry.
 */
#include <stdio.h>
#include <string.h>

#include "input.h"

/* The length of the UTF-8 sequence at p, or 0 if it is not a valid one. */
static size_t
utf8_len(const unsigned char *p, size_t left)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
	if (n == 0 || n > left || c > 0xF4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) ||	/* overlong, surrogate */
	    (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))	/* overlong, > U+10FFFF */
		return 0;
	return n;
}

int
input_check(const char *body, size_t len, long max_depth, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)body;
	long depth = 0;
	int in_string = 0, escaped = 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(p + i, len - i);
		if (n == 0) {
			snprintf(err, errlen, "the body is not valid UTF-8 (byte %zu)", i);
			return -1;
		}
		if (p[i] == '\0' || (escaped && p[i] == 'u' && len - i > 4 &&
		    memcmp(p + i + 1, "0000", 4) == 0)) {
			/* cJSON's strings end at a NUL: "a\u0000../x" would become "a". */
			snprintf(err, errlen, "the body holds a NUL character (byte %zu)", i);
			return -1;
		}
		if (n == 1 && in_string) {
			if (escaped)
				escaped = 0;
			else if (p[i] == '\\')
				escaped = 1;
			else if (p[i] == '"')
				in_string = 0;
		} else if (n == 1) {
			if (p[i] == '"')
				in_string = 1;
			else if ((p[i] == '{' || p[i] == '[') && ++depth > max_depth) {
				snprintf(err, errlen, "the body nests deeper than %ld levels", max_depth);
				return -1;
			} else if (p[i] == '}' || p[i] == ']')
				depth--;
		}
		i += n;
	}
	return 0;
}

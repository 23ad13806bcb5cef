/* hookpost.h: one signed JSON POST of imagegen's (a progress webhook, a dispatch). */
#ifndef IMAGEGEN_HOOKPOST_H
#define IMAGEGEN_HOOKPOST_H

#include <stddef.h>

#include <curl/curl.h>

struct config;

/* The most of an answer that is read; the rest is never received. */
#define HOOKPOST_ANSWER_MAX (64 * 1024)

struct hookpost_answer {
	char start[1024];	/* its first bytes, NUL-terminated */
	size_t len;		/* of start */
	size_t read;		/* bytes read in all, at most HOOKPOST_ANSWER_MAX + a block */
	int capped;		/* the answer was longer: the transfer was cut there */
};

CURL    *hookpost_easy(const struct config *cfg, const char *url, const char *secret,
	const char *wid, const char *body, struct hookpost_answer *ans,
	struct curl_slist **headers);
CURLcode hookpost_result(CURLcode rc, const struct hookpost_answer *ans);

#endif

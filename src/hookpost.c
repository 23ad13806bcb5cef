/*
 * hookpost.c: the easy handle of one POST that imagegen signs and sends,
 * a progress webhook (notify.c) or a dispatch (dispatch.c): the Standard
 * Webhooks headers, the JSON body, the time limits, no redirects. Only
 * the status of the answer counts, and its first bytes for a dispatch:
 * it is read up to HOOKPOST_ANSWER_MAX and the transfer cut there, so a
 * receiver answering gigabytes costs 64 KiB, not webhook_timeout of reading.
 */
#include <string.h>

#include "config.h"
#include "hookpost.h"
#include "sign.h"

static size_t
keep_start(char *data, size_t size, size_t n, void *arg)
{
	struct hookpost_answer *a = arg;
	size_t got = size * n, room = sizeof(a->start) - 1 - a->len;
	size_t take = got < room ? got : room;
	memcpy(a->start + a->len, data, take);
	a->len += take;
	a->start[a->len] = '\0';
	a->read += got;
	if (a->read <= HOOKPOST_ANSWER_MAX)
		return got;
	a->capped = 1;
	return 0;	/* libcurl stops the transfer: CURLE_WRITE_ERROR */
}

/* secret: "" for unsigned; *headers is the caller's to free with the handle. */
CURL *
hookpost_easy(const struct config *cfg, const char *url, const char *secret,
    const char *wid, const char *body, struct hookpost_answer *ans,
    struct curl_slist **headers)
{
	memset(ans, 0, sizeof(*ans));
	*headers = sign_headers(secret, wid, body);
	CURL *e = *headers ? curl_easy_init() : NULL;
	if (e == NULL)
		return NULL;
	if (curl_easy_setopt(e, CURLOPT_URL, url) ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, *headers) ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_start) ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, ans) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT, cfg->webhook_timeout) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, cfg->connect_timeout) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "imagegen/" PACKAGE_VERSION)) {
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

/* An answer cut at the cap was an answer: its status stands. */
CURLcode
hookpost_result(CURLcode rc, const struct hookpost_answer *ans)
{
	return rc == CURLE_WRITE_ERROR && ans->capped ? CURLE_OK : rc;
}

/*
 * imageurl.c: an image URL that a progress update reports is served to
 * players as ours, so only three kinds are taken: a path of this case's
 * own under media_url, an http(s) URL on image_url_allow (urlmatch.c), or
 * a data: URL of a JPEG, PNG or WebP picture (webhook.c stores it as a
 * file). Anything else, javascript: or another host, is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "imageurl.h"
#include "urlmatch.h"

#define MAX_URL 2048

static const char *const data_types[] = { "data:image/jpeg;base64,",
	"data:image/png;base64,", "data:image/webp;base64,", NULL };

/* Printable ASCII with no space, quote or angle bracket: nothing to escape into HTML. */
static int
plain(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == '"' || *s == '\'' || *s == '<' ||
		    *s == '>' || *s == '\\')
			return 0;
	return 1;
}

/* {media_url}{caseId}/{itemId}.jpg, the name a worker of this host gives a file. */
static int
own_media(const struct config *cfg, const char *case_id, const char *url)
{
	size_t m = strlen(cfg->media_url), c = strlen(case_id);
	if (strncmp(url, cfg->media_url, m) != 0 || strncmp(url + m, case_id, c) != 0 ||
	    url[m + c] != '/')
		return 0;
	const char *file = url + m + c + 1;
	size_t n = strlen(file);
	/* {itemId}.jpg, or {itemId}-{hash}.jpg of dataimage.c */
	if (n < 5 || n >= 80 /* media_path's name */ || strcmp(file + n - 4, ".jpg") != 0)
		return 0;
	for (size_t i = 0; i < n - 4; i++) {
		char ch = file[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

static size_t
data_prefix(const char *url)
{
	for (int i = 0; data_types[i] != NULL; i++) {
		size_t n = strlen(data_types[i]);
		if (strncmp(url, data_types[i], n) == 0)
			return n;
	}
	return 0;
}

/* Standard base64 with its padding, nothing else; returns the decoded length or -1. */
static long
base64_length(const char *s, size_t n)
{
	size_t pad = 0;
	if (n == 0 || n % 4 != 0)
		return -1;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return -1;
	}
	return (long)(n / 4 * 3 - pad);
}

enum imageurl
imageurl_check(const struct config *cfg, const char *case_id, const char *url, char *err,
    size_t errlen)
{
	size_t skip = data_prefix(url);
	if (skip > 0) {
		long n = base64_length(url + skip, strlen(url + skip));
		if (n < 0)
			snprintf(err, errlen, "is not a base64 data: URL");
		else if (n > IMAGEURL_DATA_MAX)
			snprintf(err, errlen, "holds %ld bytes, more than %d", n, IMAGEURL_DATA_MAX);
		else
			return IMAGEURL_DATA;
		return IMAGEURL_BAD;
	}
	if (strlen(url) > MAX_URL || !plain(url)) {
		snprintf(err, errlen, "is not a URL this host serves");
		return IMAGEURL_BAD;
	}
	if (own_media(cfg, case_id, url))
		return IMAGEURL_MEDIA;
	if (*cfg->image_url_allow != '\0' && urlmatch_allowed_as_is(cfg->image_url_allow, url))
		return IMAGEURL_REMOTE;
	snprintf(err, errlen, "must be under %s%s/, on image_url_allow,"
	    " or a data:image/(jpeg|png|webp);base64 URL", cfg->media_url, case_id);
	return IMAGEURL_BAD;
}

/* The picture of a data: URL that imageurl_check took; the caller frees *out. */
int
imageurl_data(const char *url, unsigned char **out, size_t *len, char *err, size_t errlen)
{
	size_t skip = data_prefix(url);
	if (skip == 0 || base64_length(url + skip, strlen(url + skip)) < 0 ||
	    codec_base64_decode(url + skip, strlen(url + skip), out, len) != 0) {
		snprintf(err, errlen, "is not a base64 data: URL");
		return -1;
	}
	return 0;
}

/*
 * fuzz_imageurl.c: what a progress update's image URL may be (imageurl.c),
 * a data: URL's picture decoded from base64, URLs against allowlists
 * (urlmatch.c) and hosts against the special-purpose table (ssrf.c), and
 * the decode cost read from a JPEG's header (decodecost.c), each on the
 * raw input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "decodecost.h"
#include "imageurl.h"
#include "ssrf.h"
#include "urlmatch.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static int ready;
	char err[256], *url = malloc(size + 1);
	if (!ready) {
		config_defaults(&cfg);
		free(cfg.image_url_allow);
		cfg.image_url_allow = strdup("https://cdn.example/images/ http://img.example/a/");
		ready = 1;
	}
	if (url == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	if (imageurl_check(&cfg, "case-1", url, err, sizeof(err)) == IMAGEURL_DATA) {
		unsigned char *raw = NULL;
		size_t len = 0;
		if (imageurl_data(url, &raw, &len, err, sizeof(err)) == 0 && len == 0)
			abort();	/* taken, yet empty */
		free(raw);
	}
	/* The allowlists and the special-purpose table, as URL and as host. */
	(void)urlmatch_list_valid(url, err, sizeof(err));
	(void)urlmatch_allowed(cfg.image_url_allow, url);
	(void)urlmatch_userinfo(url);
	(void)ssrf_host_private(url);
	struct decode_header h;
	if (decodecost_jpeg(data, size, &h) == 0) {
		if (h.width == 0 || h.height == 0 || h.components < 1 || h.components > 4)
			abort();
		(void)decodecost_bytes("JPEG", &h, 512, 0);
	}
	free(url);
	return 0;
}

/* ssrf.h: where webhooks may go: an allowlist, and no private destination. */
#ifndef IMAGEGEN_SSRF_H
#define IMAGEGEN_SSRF_H

#include <stddef.h>

#include <curl/curl.h>

struct config;

int  ssrf_url_allowed(const struct config *cfg, const char *url, const char *scheme,
	const char *host, char *why, size_t whylen);
int  ssrf_guard(CURL *easy, const struct config *cfg);
int  ssrf_host_private(const char *host);

#endif

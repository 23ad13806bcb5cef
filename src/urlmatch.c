/*
 * urlmatch.c: a URL is judged as libcurl will connect to it, so it is
 * parsed by libcurl's own URL API (curl_url) and its parts compared, never
 * its text: "https://game.example@attacker.net/" is attacker.net, whatever
 * it starts with. An allowlist entry is parsed the same way. One without
 * a path (or with "/") is its origin: scheme, host and port, any path. One
 * whose path ends in "/" is that origin under that path; any other path
 * must be the URL's whole path. A URL with a user name or password is
 * refused outright: libcurl would send it as an Authorization header.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "urlmatch.h"

struct parts {
	char *scheme, *host, *path;
	char *port;		/* the default one when the URL names none */
	int userinfo;		/* a user name, password or login options */
	int extra;		/* a query, fragment or IPv6 zone id */
};

static void
parts_free(struct parts *p)
{
	curl_free(p->scheme);
	curl_free(p->host);
	curl_free(p->path);
	curl_free(p->port);
	memset(p, 0, sizeof(*p));
}

static int
has_part(CURLU *u, CURLUPart what)
{
	char *v = NULL;
	int rc = curl_url_get(u, what, &v, 0) == CURLUE_OK;
	curl_free(v);
	return rc;
}

/*
 * 0 with the parts of an http or https URL, -1 for anything else; with
 * as_is, whether libcurl writes the URL back as it was written.
 */
static int
parts_get(const char *url, struct parts *p, int *as_is)
{
	CURLU *u = curl_url();
	char *whole = NULL;
	memset(p, 0, sizeof(*p));
	int ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    (as_is == NULL || curl_url_get(u, CURLUPART_URL, &whole, 0) == CURLUE_OK) &&
	    curl_url_get(u, CURLUPART_SCHEME, &p->scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &p->host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p->port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, &p->path, 0) == CURLUE_OK &&
	    (strcmp(p->scheme, "https") == 0 || strcmp(p->scheme, "http") == 0) &&
	    *p->host != '\0';
	if (ok) {
		p->userinfo = has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) ||
		    has_part(u, CURLUPART_OPTIONS);
		p->extra = has_part(u, CURLUPART_QUERY) || has_part(u, CURLUPART_FRAGMENT) ||
		    has_part(u, CURLUPART_ZONEID);
		if (as_is != NULL)
			*as_is = strcmp(whole, url) == 0;
	}
	curl_free(whole);
	curl_url_cleanup(u);
	if (!ok)
		parts_free(p);
	return ok ? 0 : -1;
}

/*
 * Below a prefix, an encoded dot, slash or backslash may be decoded by the
 * server into a step out of it ("/api/%2e%2e/admin"): refused.
 */
static int
plain_below(const char *rest)
{
	for (const char *p = strchr(rest, '%'); p != NULL; p = strchr(p + 1, '%'))
		if (strncasecmp(p, "%2e", 3) == 0 || strncasecmp(p, "%2f", 3) == 0 ||
		    strncasecmp(p, "%5c", 3) == 0)
			return 0;
	return 1;
}

static int
path_matches(const char *want, const char *path)
{
	size_t n = strlen(want);
	if (strcmp(want, "/") == 0)
		return 1;
	if (want[n - 1] != '/')
		return strcmp(want, path) == 0;
	return strncmp(want, path, n) == 0 && plain_below(path + n);
}

static int
entry_matches(const struct parts *e, const struct parts *u)
{
	return strcmp(e->scheme, u->scheme) == 0 && strcasecmp(e->host, u->host) == 0 &&
	    strcmp(e->port, u->port) == 0 && path_matches(e->path, u->path);
}

/*
 * The allowlist last matched against, parsed once: lists come from the
 * config, and a responder checks every image URL of every update.
 */
static struct {
	pthread_mutex_t lock;
	char *list;
	struct parts *e;	/* its entries that parse */
	size_t n;
} parsed = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
parsed_free(void)
{
	for (size_t i = 0; i < parsed.n; i++)
		parts_free(&parsed.e[i]);
	free(parsed.e);
	free(parsed.list);
	parsed.e = NULL;
	parsed.list = NULL;
	parsed.n = 0;
}

/* With parsed.lock held: 0 once parsed holds list's entries. */
static int
parse_list(const char *list)
{
	char one[2048];
	if (parsed.list != NULL && strcmp(parsed.list, list) == 0)
		return 0;
	parsed_free();
	size_t cap = strlen(list) / 2 + 1;
	parsed.e = calloc(cap, sizeof(*parsed.e));
	parsed.list = strdup(list);
	if (parsed.e == NULL || parsed.list == NULL) {
		parsed_free();
		return -1;
	}
	for (const char *p = list + strspn(list, " "); *p != '\0'; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");
		snprintf(one, sizeof(one), "%.*s", (int)n, p);
		if (n < sizeof(one) && parsed.n < cap && parts_get(one, &parsed.e[parsed.n],
		    NULL) == 0)
			parsed.n++;
		p += n;
	}
	return 0;
}

static int
list_matches(const char *list, const struct parts *u)
{
	int found = 0;
	pthread_mutex_lock(&parsed.lock);
	if (parse_list(list) == 0)
		for (size_t i = 0; !found && i < parsed.n; i++)
			found = entry_matches(&parsed.e[i], u);
	pthread_mutex_unlock(&parsed.lock);
	return found;
}

/* Whether url is under one of the space-separated entries of list. */
int
urlmatch_allowed(const char *list, const char *url)
{
	struct parts u;
	if (parts_get(url, &u, NULL) != 0)
		return 0;
	int found = !u.userinfo && list_matches(list, &u);
	parts_free(&u);
	return found;
}

/* The same, for a URL that must also be written as libcurl writes it back: no tricks. */
int
urlmatch_allowed_as_is(const char *list, const char *url)
{
	struct parts u;
	int as_is = 0;
	if (parts_get(url, &u, &as_is) != 0)
		return 0;
	int found = as_is && !u.userinfo && list_matches(list, &u);
	parts_free(&u);
	return found;
}

/* 1 when url carries a user name, password or login options, or is no http(s) URL. */
int
urlmatch_userinfo(const char *url)
{
	struct parts p;
	if (parts_get(url, &p, NULL) != 0)
		return 1;
	int rc = p.userinfo;
	parts_free(&p);
	return rc;
}

/* "host:" with no port after the colon: libcurl reads it as the default port. */
static int
empty_port(const char *url)
{
	const char *a = strstr(url, "://");
	if (a == NULL)
		return 0;
	a += 3;
	size_t n = strcspn(a, "/?#");
	return n > 0 && a[n - 1] == ':';
}

/*
 * A URL from the config: http or https, with a host, and nothing libcurl
 * would read otherwise than its writer meant: no user name or password,
 * no query or fragment, no empty port.
 */
int
urlmatch_plain(const char *url, char *err, size_t errlen)
{
	struct parts p;
	const char *why = NULL;
	if (parts_get(url, &p, NULL) != 0)
		why = "not an http or https URL with a host";
	else if (p.userinfo)
		why = "a user name or password in a URL is not taken";
	else if (p.extra)
		why = "a query or fragment is not taken here";
	else if (empty_port(url))
		why = "an empty port (\"host:\") is port 80 or 443, not any port: name the port";
	parts_free(&p);
	if (why != NULL)
		snprintf(err, errlen, "%s", why);
	return why == NULL ? 0 : -1;
}

/* Each entry of an allowlist: 0, or -1 with the first bad one named in err. */
int
urlmatch_list_valid(const char *list, char *err, size_t errlen)
{
	char one[2048], why[160];
	for (const char *p = list + strspn(list, " "); *p != '\0'; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");
		snprintf(one, sizeof(one), "%.*s", (int)n, p);
		if (n >= sizeof(one) || urlmatch_plain(one, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "\"%.200s\": %s", one, n >= sizeof(one) ?
			    "too long" : why);
			return -1;
		}
		p += n;
	}
	return 0;
}

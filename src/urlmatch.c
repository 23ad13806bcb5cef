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
#include <stdint.h>
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
 * The allowlists last matched against, parsed once: lists come from the
 * config (a responder meets two, image_url_allow and webhook_allow), and
 * a responder checks every image URL of every update. Beside each, the
 * verdicts it gave last, by URL: an update repeats every image so far,
 * so each of a case's URLs is judged again at each of its updates, and a
 * judgement is a dozen calls into libcurl, each an allocation. A verdict
 * depends on the URL and the list alone.
 */
#define LISTS 2
#define MEMO_SLOTS 128
#define MEMO_URL 192		/* longer URLs are judged each time */

struct memo {
	char url[MEMO_URL];	/* "" for an empty slot */
	int as_is;		/* the verdict of urlmatch_allowed_as_is, else of urlmatch_allowed */
	int verdict;
};

struct parsed_list {
	char *list;
	struct parts *e;	/* its entries that parse */
	size_t n;
	unsigned long used;	/* when last asked for: the older of two goes */
	struct memo memo[MEMO_SLOTS];
};

static struct {
	pthread_mutex_t lock;
	unsigned long tick;
	struct parsed_list l[LISTS];
} parsed = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
list_free(struct parsed_list *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		parts_free(&pl->e[i]);
	free(pl->e);
	free(pl->list);
	memset(pl, 0, sizeof(*pl));
}

static int
list_parse(struct parsed_list *pl, const char *list)
{
	char one[2048];
	size_t cap = strlen(list) / 2 + 1;
	pl->e = calloc(cap, sizeof(*pl->e));
	pl->list = strdup(list);
	if (pl->e == NULL || pl->list == NULL) {
		list_free(pl);
		return -1;
	}
	for (const char *p = list + strspn(list, " "); *p != '\0'; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");
		snprintf(one, sizeof(one), "%.*s", (int)n, p);
		if (n < sizeof(one) && pl->n < cap && parts_get(one, &pl->e[pl->n], NULL) == 0)
			pl->n++;
		p += n;
	}
	return 0;
}

/* With parsed.lock held: list, parsed; NULL when memory ran out. */
static struct parsed_list *
list_get(const char *list)
{
	struct parsed_list *pl = &parsed.l[0];
	for (int i = 0; i < LISTS; i++) {
		if (parsed.l[i].list != NULL && strcmp(parsed.l[i].list, list) == 0) {
			pl = &parsed.l[i];
			goto found;
		}
		if (parsed.l[i].used < pl->used)
			pl = &parsed.l[i];
	}
	list_free(pl);
	if (list_parse(pl, list) != 0)
		return NULL;
found:
	pl->used = ++parsed.tick;
	return pl;
}

/* With parsed.lock held: url's slot in pl's memo; NULL when it has none. */
static struct memo *
memo_slot(struct parsed_list *pl, const char *url)
{
	size_t n = strlen(url);
	uint32_t h = 2166136261u;	/* FNV-1a */
	if (pl == NULL || n >= MEMO_URL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)url[i]) * 16777619u;
	return &pl->memo[h % MEMO_SLOTS];
}

/* 1 with *verdict when url was judged against list last time its slot was used. */
static int
memo_get(const char *list, const char *url, int as_is, int *verdict)
{
	pthread_mutex_lock(&parsed.lock);
	struct memo *m = memo_slot(list_get(list), url);
	int hit = m != NULL && m->as_is == as_is && strcmp(m->url, url) == 0;
	if (hit)
		*verdict = m->verdict;
	pthread_mutex_unlock(&parsed.lock);
	return hit;
}

/* u (NULL: not an http(s) URL) matched against list's entries, the verdict remembered. */
static int
match_and_remember(const char *list, const char *url, int as_is, const struct parts *u)
{
	int found = 0;
	pthread_mutex_lock(&parsed.lock);
	struct parsed_list *pl = list_get(list);
	for (size_t i = 0; u != NULL && pl != NULL && !found && i < pl->n; i++)
		found = entry_matches(&pl->e[i], u);
	struct memo *m = memo_slot(pl, url);
	if (m != NULL) {
		snprintf(m->url, sizeof(m->url), "%s", url);
		m->as_is = as_is;
		m->verdict = found;
	}
	pthread_mutex_unlock(&parsed.lock);
	return found;
}

/*
 * Whether url is under one of the entries of list; with as_is, only if
 * libcurl also writes it back as it was written: no tricks. The URL is
 * parsed outside the lock.
 */
static int
judge(const char *list, const char *url, int as_is)
{
	struct parts u;
	int verdict, same = 0;
	if (memo_get(list, url, as_is, &verdict))
		return verdict;
	int taken = parts_get(url, &u, as_is ? &same : NULL) == 0 && (same || !as_is) &&
	    !u.userinfo;
	verdict = match_and_remember(list, url, as_is, taken ? &u : NULL);
	parts_free(&u);
	return verdict;
}

/* Whether url is under one of the space-separated entries of list. */
int
urlmatch_allowed(const char *list, const char *url)
{
	return judge(list, url, 0);
}

/* The same, for a URL that must also be written as libcurl writes it back: no tricks. */
int
urlmatch_allowed_as_is(const char *list, const char *url)
{
	return judge(list, url, 1);
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

/* router.c: the route table; 404, 405 and HEAD are answered here and nowhere else. */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "cancel.h"
#include "config.h"
#include "generate.h"
#include "list.h"
#include "metrics.h"
#include "picture.h"
#include "request.h"
#include "retry.h"
#include "router.h"
#include "status.h"
#include "webhook.h"

struct route {
	const char *path;
	int prefix;		/* path is a prefix; the handler gets the rest */
	const char *suffix;	/* with prefix: what the path must end in, cut from the rest */
	const char *method;	/* GET routes answer HEAD too */
	enum { OPEN, WRITE, READ } auth;	/* READ: a token only with status_auth = token */
	int reader;		/* it only reads, and may run on the store's reader */
	void (*handle)(struct request *r, const char *rest);
};

/* First match wins: the case actions come before the status route they extend. */
static const struct route routes[] = {
	{ "/api/generate-case-images", 0, NULL, "POST", WRITE, 0, generate_handle },
	{ "/api/case-images/", 1, "/retry", "POST", WRITE, 0, retry_handle },
	{ "/api/case-images/", 1, "/cancel", "POST", WRITE, 0, cancel_handle },
	{ "/api/case-images/", 1, NULL, "GET", READ, 1, status_handle },
	{ "/api/case-images", 0, NULL, "GET", READ, 1, list_handle },
	{ "/api/webhook/image-progress", 0, NULL, "POST", OPEN, 0, webhook_handle },
	/* Read on the reader, as status: a held write lock does not hold it up. */
	{ "/api/metrics/image-generation", 0, NULL, "GET", READ, 1, metrics_handle },
	/* media_store = database: nginx passes /media/ here (nginx/imagegen-database.conf). */
	{ "/media/", 1, ".jpg", "GET", OPEN, 1, picture_handle },
};

static int
matches(const struct route *rt, const char *path, char *rest, size_t restlen)
{
	size_t n = strlen(rt->path), len = strlen(path);
	if (!rt->prefix)
		return strcmp(path, rt->path) == 0;
	if (strncmp(path, rt->path, n) != 0)
		return 0;
	size_t sn = rt->suffix ? strlen(rt->suffix) : 0;
	if (len < n + sn || (sn && strcmp(path + len - sn, rt->suffix) != 0) ||
	    len - n - sn >= restlen)
		return 0;
	memcpy(rest, path + n, len - n - sn);
	rest[len - n - sn] = '\0';
	return 1;
}

static const struct route *
match(const char *path, char *rest, size_t restlen)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (matches(&routes[i], path, rest, restlen))
			return &routes[i];
	return NULL;
}

void
router_dispatch(struct request *r)
{
	char rest[160] = "";
	const struct route *rt = match(r->path, rest, sizeof(rest));
	if (rt == NULL) {
		reply_error(r, 404, "Not found", NULL);
		return;
	}
	int get = strcmp(rt->method, "GET") == 0;
	if (strcmp(r->method, rt->method) != 0 && !(get && r->head)) {
		char allow[64];
		snprintf(allow, sizeof(allow), "Allow: %s%s\r\n", rt->method,
		    get ? ", HEAD" : "");
		reply_error_headers(r, 405, allow, "Method not allowed", NULL);
		return;
	}
	int needs_token = rt->auth == WRITE ||
	    (rt->auth == READ && r->cfg->status_auth == STATUS_TOKEN);
	if (needs_token && !auth_check(r->authorization)) {
		reply_error_headers(r, 401, "WWW-Authenticate: Bearer realm=\"imagegen\"\r\n",
		    "a valid bearer token is required", NULL);
		return;
	}
	rt->handle(r, rest);
}

/*
 * 1 for a request that only reads the store: the status and list routes', and
 * whatever answer (404, 405, 401) its path gets without reaching it.
 */
int
router_reads_only(const struct request *r)
{
	char rest[160];
	const struct route *rt = match(r->path, rest, sizeof(rest));
	return rt != NULL && rt->reader;
}

/* router.c: the route table; 404, 405 and HEAD are answered here and nowhere else. */
#include <stdio.h>
#include <string.h>

#include "generate.h"
#include "metrics.h"
#include "request.h"
#include "router.h"
#include "status.h"
#include "webhook.h"

struct route {
	const char *path;
	int prefix;		/* path is a prefix; the handler gets the rest */
	const char *method;	/* GET routes answer HEAD too */
	void (*handle)(struct request *r, const char *rest);
};

static const struct route routes[] = {
	{ "/api/generate-case-images", 0, "POST", generate_handle },
	{ "/api/case-images/", 1, "GET", status_handle },
	{ "/api/webhook/image-progress", 0, "POST", webhook_handle },
	{ "/api/metrics/image-generation", 0, "GET", metrics_handle },
};

static const struct route *
match(const char *path, const char **rest)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];
		size_t n = strlen(rt->path);
		if (rt->prefix ? strncmp(path, rt->path, n) == 0 : strcmp(path, rt->path) == 0) {
			*rest = path + n;
			return rt;
		}
	}
	return NULL;
}

void
router_dispatch(struct request *r)
{
	const char *rest = "";
	const struct route *rt = match(r->path, &rest);
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
	rt->handle(r, rest);
}

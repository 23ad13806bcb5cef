/*
 * list.c: GET /api/case-images?status=&limit=&before=, the jobs newest
 * first, a page at a time: {"jobs": [summary...], "next": cursor or null}.
 * The cursor names the last job of the page ("<createdAt>.<caseId>"), so
 * a page never repeats or skips a job however many are created meanwhile.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "casereq.h"
#include "config.h"
#include "jobjson.h"
#include "list.h"
#include "log.h"
#include "request.h"
#include "store.h"

#define DEFAULT_LIMIT 20
#define MAX_LIMIT 100
#define MAX_VALUE 96

struct query {
	const char *status;	/* NULL: every status */
	char status_buf[12];
	int limit;
	int64_t before_at;	/* INT64_MAX and "" for the first page */
	char before_id[65];
	unsigned seen;		/* a bit per parameter, to refuse one given twice */
};

static const char *const statuses[] = { "pending", "generating", "completed", "partial",
	"failed", "queued", "cancelled", NULL };

static int
hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into out; -1 for a bad escape, a NUL, or too long a value. */
static int
decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == '\0' || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int
set_status(struct query *q, const char *v)
{
	if (*v == '\0')
		return 0;
	for (const char *const *s = statuses; *s != NULL; s++)
		if (strcmp(v, *s) == 0) {
			snprintf(q->status_buf, sizeof(q->status_buf), "%s", v);
			q->status = q->status_buf;
			return 0;
		}
	return -1;
}

static int
set_limit(struct query *q, const char *v)
{
	char *end;
	if (*v == '\0')
		return 0;
	if (strspn(v, "0123456789") != strlen(v) || strlen(v) > 3)
		return -1;
	long n = strtol(v, &end, 10);
	if (n < 1 || n > MAX_LIMIT)
		return -1;
	q->limit = (int)n;
	return 0;
}

/* "<createdAt>.<caseId>", as list_handle writes it. */
static int
set_before(struct query *q, const char *v)
{
	if (*v == '\0')
		return 0;
	size_t digits = strspn(v, "0123456789");
	if (digits == 0 || digits > 18 || v[digits] != '.' || !casereq_valid_id(v + digits + 1))
		return -1;
	q->before_at = strtoll(v, NULL, 10);
	snprintf(q->before_id, sizeof(q->before_id), "%s", v + digits + 1);
	return 0;
}

static const struct param {
	const char *name;
	int (*set)(struct query *, const char *);
	const char *why;
} params[] = {
	{ "status", set_status,
	  "status must be one of pending, generating, completed, partial, failed, queued,"
	  " cancelled" },
	{ "limit", set_limit, "limit must be a number from 1 to 100" },
	{ "before", set_before, "before must be a cursor, the next of an earlier page" },
};

/* One name=value pair; on failure *field names the parameter and *why the reason. */
static int
parse_pair(struct query *q, const char *p, size_t n, const char **field, const char **why)
{
	char name[16], value[MAX_VALUE];
	const char *eq = memchr(p, '=', n);
	size_t nl = eq != NULL ? (size_t)(eq - p) : n;
	*field = NULL;
	*why = "unknown query parameter: status, limit and before are known";
	if (decode(p, nl, name, sizeof(name)) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		if (strcmp(name, params[i].name) != 0)
			continue;
		*field = params[i].name;
		*why = params[i].why;
		if (q->seen & (1u << i)) {
			*why = "a query parameter is given twice";
			return -1;
		}
		q->seen |= 1u << i;
		if (eq == NULL)
			return params[i].set(q, "");
		return decode(eq + 1, n - nl - 1, value, sizeof(value)) == 0 &&
		    params[i].set(q, value) == 0 ? 0 : -1;
	}
	return -1;
}

static int
parse_query(const char *qs, struct query *q, const char **field, const char **why)
{
	memset(q, 0, sizeof(*q));
	q->limit = DEFAULT_LIMIT;
	q->before_at = INT64_MAX;
	for (const char *p = qs != NULL ? qs : ""; *p != '\0';) {
		size_t n = strcspn(p, "&");
		if (n > 0 && parse_pair(q, p, n, field, why) != 0)
			return -1;
		p += n + (p[n] == '&');
	}
	return 0;
}

/* What a list shows of a job: its status JSON without the items and images. */
static cJSON *
summary(const struct config *cfg, const struct job *job)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", cfg->status_url, job->case_id);
	cJSON *o = cJSON_CreateObject();
	int ok = o != NULL && jobjson_head(o, job) == 0 &&
	    cJSON_AddStringToObject(o, "statusUrl", url);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

struct page {
	const struct config *cfg;
	cJSON *jobs;
	int limit, n, failed;
	char next[96];		/* the cursor of the page's last job */
};

/* Called for up to limit + 1 jobs: the one past the page only says there are more. */
static int
add_job(const struct job *job, void *arg)
{
	struct page *pg = arg;
	if (pg->n == pg->limit) {
		pg->n++;
		return 1;
	}
	cJSON *o = summary(pg->cfg, job);
	if (o == NULL || !cJSON_AddItemToArray(pg->jobs, o)) {
		cJSON_Delete(o);
		pg->failed = 1;
		return 1;
	}
	pg->n++;
	snprintf(pg->next, sizeof(pg->next), "%" PRId64 ".%s", job->created_at, job->case_id);
	return 0;
}

static void
send_page(struct request *r, const struct query *q)
{
	cJSON *o = cJSON_CreateObject();
	struct page pg = { r->cfg, o ? cJSON_AddArrayToObject(o, "jobs") : NULL, q->limit, 0, 0,
		"" };
	if (pg.jobs == NULL || store_each_recent_job(q->status, q->before_at, q->before_id,
	    q->limit + 1, add_job, &pg) != 0 || pg.failed ||
	    !(pg.n > q->limit ? cJSON_AddStringToObject(o, "next", pg.next)
	        : cJSON_AddNullToObject(o, "next"))) {
		log_error("list: cannot list the jobs (status %s)", q->status ? q->status : "any");
		reply_error(r, 500, "internal error", NULL);
	} else {
		reply_json(r, 200, "Cache-Control: no-cache\r\n", o);
	}
	cJSON_Delete(o);
}

void
list_handle(struct request *r, const char *rest)
{
	struct query q;
	const char *field, *why;
	(void)rest;
	if (parse_query(r->query, &q, &field, &why) != 0) {
		reply_error(r, 400, why, field);
		return;
	}
	send_page(r, &q);
}

/*
 * request.c: the thin I/O layer under every handler. CGI (RFC 3875) and
 * FastCGI differ only in where bytes come from and go to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "config.h"
#include "input.h"
#include "log.h"
#include "request.h"
#include "store.h"
#include "store_health.h"

#define BUSY_RETRY_AFTER "2"	/* seconds: an operator's lock is short, or it is a mistake */
#define FULL_RETRY_AFTER "30"	/* seconds: a full disk waits for an operator */

static const struct { int code; const char *text; } reasons[] = {
	{ 200, "OK" }, { 202, "Accepted" }, { 304, "Not Modified" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 408, "Request Timeout" }, { 409, "Conflict" }, { 411, "Length Required" }, { 413, "Content Too Large" },
	{ 415, "Unsupported Media Type" }, { 500, "Internal Server Error" },
	{ 503, "Service Unavailable" },
};

static const char *
reason(int code)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].text;
	return "Unknown";
}

static char *
param_dup(const char *name, char **envp)
{
	const char *v = FCGX_GetParam(name, envp);
	return v ? strdup(v) : NULL;
}

/* nginx gives DOCUMENT_URI already decoded and normalised; plain CGI servers may not. */
static char *
request_path(char **envp)
{
	const char *v = FCGX_GetParam("DOCUMENT_URI", envp);
	if (v != NULL && *v != '\0')
		return strdup(v);
	v = FCGX_GetParam("REQUEST_URI", envp);
	if (v != NULL && *v != '\0')
		return strndup(v, strcspn(v, "?"));
	const char *script = FCGX_GetParam("SCRIPT_NAME", envp);
	const char *info = FCGX_GetParam("PATH_INFO", envp);
	size_t n = strlen(script ? script : "") + strlen(info ? info : "") + 1;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s%s", script ? script : "", info ? info : "");
	return p;
}

static long
parse_length(const char *v)
{
	char *end;
	if (v == NULL || *v == '\0')
		return -1;
	long n = strtol(v, &end, 10);
	return (*end != '\0' || n < 0) ? -2 : n;
}

/* Copies what the handlers need: libfcgi frees envp at the next accept. */
int
request_init(struct request *r, FCGX_Request *fcgi, char **envp, const struct config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->fcgi = fcgi;
	r->cfg = cfg;
	r->method = param_dup("REQUEST_METHOD", envp);
	r->path = request_path(envp);
	r->content_type = param_dup("CONTENT_TYPE", envp);
	r->if_none_match = param_dup("HTTP_IF_NONE_MATCH", envp);
	r->authorization = param_dup("HTTP_AUTHORIZATION", envp);
	r->webhook_id = param_dup("HTTP_WEBHOOK_ID", envp);
	r->webhook_timestamp = param_dup("HTTP_WEBHOOK_TIMESTAMP", envp);
	r->webhook_signature = param_dup("HTTP_WEBHOOK_SIGNATURE", envp);
	r->accept = param_dup("HTTP_ACCEPT", envp);
	r->query = param_dup("QUERY_STRING", envp);
	r->content_length = parse_length(FCGX_GetParam("CONTENT_LENGTH", envp));
	if (r->method == NULL || r->path == NULL)
		return -1;
	r->head = strcmp(r->method, "HEAD") == 0;
	return 0;
}

void
request_free(struct request *r)
{
	free(r->method);
	free(r->path);
	free(r->content_type);
	free(r->if_none_match);
	if (r->authorization != NULL)
		explicit_bzero(r->authorization, strlen(r->authorization));
	free(r->authorization);
	free(r->webhook_id);
	free(r->webhook_timestamp);
	free(r->webhook_signature);
	free(r->accept);
	free(r->query);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/*
 * A FastCGI body, read a few KiB at a time, each read waiting no later
 * than the deadline (SO_RCVTIMEO): a client that stalls, or trickles,
 * holds its thread until input_timeout, no longer (intake.c).
 */
static int
read_fcgi(struct request *r, char *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		int chunk = n - got > 4096 ? 4096 : (int)(n - got);
		int64_t left = r->deadline != 0 ? r->deadline - codec_now_ms() : 1;
		struct timeval tv = { .tv_sec = left / 1000, .tv_usec = left % 1000 * 1000 };
		if (left <= 0 || (r->deadline != 0 && setsockopt(r->fcgi->ipcFd, SOL_SOCKET,
		    SO_RCVTIMEO, &tv, sizeof(tv)) != 0)) {
			r->body_late = left <= 0;
			return -1;
		}
		if (FCGX_GetStr(buf + got, chunk, r->fcgi->in) != chunk) {
			int e = FCGX_GetError(r->fcgi->in);
			r->body_late = e == EAGAIN || e == EWOULDBLOCK;
			return -1;
		}
		got += (size_t)chunk;
	}
	return 0;
}

static int
read_bytes(struct request *r, char *buf, size_t n)
{
	if (r->fcgi != NULL)
		return read_fcgi(r, buf, n);
	return fread(buf, 1, n, stdin) == n ? 0 : -1;
}

static int
is_json(const char *ct)
{
	static const char want[] = "application/json";
	if (ct == NULL || strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return 0;
	char next = ct[sizeof(want) - 1];
	return next == '\0' || next == ';' || next == ' ';
}

static int
read_body(struct request *r)
{
	r->body = malloc((size_t)r->content_length + 1);
	if (r->body == NULL) {
		log_error("request: %s: cannot allocate %ld bytes", r->path, r->content_length);
		return -1;
	}
	if (read_bytes(r, r->body, (size_t)r->content_length) != 0) {
		r->body_short = 1;
		return 0;
	}
	r->body_len = (size_t)r->content_length;
	r->body[r->body_len] = '\0';
	return 0;
}

/*
 * Reads a JSON body of at most max bytes before the route is known, so
 * that a slow sender holds up only its own thread; request_read_json()
 * then checks it against the route's own limit. Anything else is left
 * for request_read_json() to refuse unread.
 */
int
request_read_ahead(struct request *r, long max)
{
	if (!is_json(r->content_type) || r->content_length < 0 || r->content_length > max)
		return 0;
	return read_body(r);
}

/*
 * Reads exactly CONTENT_LENGTH bytes of a JSON body, unless read ahead
 * already; a short read is an error. On failure the client has its answer
 * and this returns -1.
 */
int
request_read_json(struct request *r, long max)
{
	if (!is_json(r->content_type)) {
		reply_error(r, 415, "Content-Type must be application/json", NULL);
		return -1;
	}
	if (r->content_length == -1) {
		reply_error(r, 411, "Content-Length is required", NULL);
		return -1;
	}
	if (r->content_length == -2) {
		reply_error(r, 400, "Content-Length is not a valid number", NULL);
		return -1;
	}
	if (r->content_length > max) {
		reply_error(r, 413, "the body is too large", NULL);
		return -1;
	}
	if (r->body == NULL && read_body(r) != 0) {
		reply_error(r, 500, "internal error", NULL);
		return -1;
	}
	if (r->body_short) {
		if (r->body_late)
			reply_error(r, 408, "the body did not arrive within input_timeout", NULL);
		else
			reply_error(r, 400, "the body is shorter than Content-Length", NULL);
		return -1;
	}
	char why[128];
	if (input_check(r->body, r->body_len, r->cfg->max_depth, why, sizeof(why)) != 0) {
		reply_error(r, 400, why, NULL);
		return -1;
	}
	return 0;
}

static void
write_out(struct request *r, const char *buf, size_t len)
{
	if (len == 0)
		return;
	if (r->fcgi != NULL) {
		if (FCGX_PutStr(buf, (int)len, r->fcgi->out) != (int)len)
			log_warn("request: %s: client went away", r->path);
	} else if (fwrite(buf, 1, len, stdout) != len) {
		log_warn("request: %s: write to the web server failed", r->path);
	}
}

/* headers: extra "Name: value\r\n" lines, or NULL. */
void
reply(struct request *r, int status, const char *headers, const char *body, size_t len)
{
	reply_typed(r, status, "application/json", headers, body, len);
}

/* For the few answers that are not JSON, such as the metrics' text format. */
void
reply_typed(struct request *r, int status, const char *content_type,
    const char *headers, const char *body, size_t len)
{
	char head[512];
	int n;
	if (r->replied)
		return;
	r->replied = status;	/* nonzero: the status, for the request's last log line */
	if (status == 304)
		n = snprintf(head, sizeof(head), "Status: 304 Not Modified\r\n%s\r\n",
		    headers ? headers : "");
	else
		n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
		    "Content-Type: %s\r\n"
		    "Content-Length: %zu\r\n%s\r\n", status, reason(status), content_type,
		    len, headers ? headers : "");
	write_out(r, head, (size_t)n < sizeof(head) ? (size_t)n : sizeof(head) - 1);
	if (!r->head && status != 304)
		write_out(r, body, len);
	if (r->fcgi == NULL)
		fflush(stdout);
}

void
reply_json(struct request *r, int status, const char *headers, void *json)
{
	char *text = cJSON_PrintUnformatted(json);
	if (text == NULL) {
		log_error("request: %s: cannot serialise the reply", r->path);
		reply_error(r, 500, "internal error", NULL);
		return;
	}
	size_t len = strlen(text);
	text[len] = '\n';	/* cJSON's buffer has room for its NUL, which this replaces */
	reply(r, status, headers, text, len + 1);
	cJSON_free(text);
}

/* RFC 9110 13.1.2: a list of entity tags, or "*"; weak tags compare weakly. */
int
request_etag_matches(const struct request *r, const char *etag)
{
	const char *header = r->if_none_match;
	if (header == NULL)
		return 0;
	if (strcmp(header, "*") == 0)
		return 1;
	size_t n = strlen(etag);
	for (const char *p = header; (p = strstr(p, etag)) != NULL; p += n) {
		char after = p[n];
		if (after == '\0' || after == ',' || after == ' ')
			return 1;
	}
	return 0;
}

void
reply_error(struct request *r, int status, const char *message, const char *field)
{
	reply_error_headers(r, status, NULL, message, field);
}

/*
 * A lock held past the busy timeout (an operator's sqlite3 shell, a long
 * checkpoint), or a database that cannot be written (a full disk), is no
 * internal error: the client is told why, and to come back.
 */
void
reply_error_headers(struct request *r, int status, const char *headers,
    const char *message, const char *field)
{
	char why[160];
	const char *cause = store_unwritable();
	if (status == 500 && store_busy()) {
		status = 503;
		headers = "Retry-After: " BUSY_RETRY_AFTER "\r\n";
		message = "busy";
		field = NULL;
	} else if (status == 500 && cause != NULL) {
		snprintf(why, sizeof(why), "the database cannot be written: %s", cause);
		status = 503;
		headers = "Retry-After: " FULL_RETRY_AFTER "\r\n";
		message = why;
		field = NULL;
	}
	/* PostgreSQL restarting or away: the store reconnects, the client comes back. */
	if (status == 500 && store_unreachable()) {
		status = 503;
		headers = "Retry-After: " BUSY_RETRY_AFTER "\r\n";
		message = "the database is unavailable";
		field = NULL;
	}
	if (status == 500 && (store_damaged() || store_read_only())) {
		status = 503;
		message = store_damaged() ? "the database is damaged" : "the database is read-only";
		field = NULL;
	}
	cJSON *o = cJSON_CreateObject();
	if (o == NULL || cJSON_AddStringToObject(o, "error", message) == NULL ||
	    (field != NULL && *field != '\0' &&
	    cJSON_AddStringToObject(o, "field", field) == NULL)) {
		cJSON_Delete(o);
		static const char fallback[] = "{\"error\":\"internal error\"}\n";
		reply(r, 500, NULL, fallback, sizeof(fallback) - 1);
		return;
	}
	reply_json(r, status, headers, o);
	cJSON_Delete(o);
}

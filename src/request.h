/* request.h: one HTTP request, the same for CGI and FastCGI, and its reply. */
#ifndef IMAGEGEN_REQUEST_H
#define IMAGEGEN_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>

struct config;

struct request {
	FCGX_Request *fcgi;	/* NULL in CGI mode: stdin and stdout */
	const struct config *cfg;
	char *method;
	char *path;
	char *content_type;
	char *if_none_match;
	char *authorization;
	char *webhook_id;	/* Standard Webhooks headers of an inbound update */
	char *webhook_timestamp;
	char *webhook_signature;
	char *accept;		/* the Accept header, or NULL */
	char *query;		/* QUERY_STRING, still percent-encoded, or NULL */
	long content_length;	/* -1 when absent */
	char *body;
	size_t body_len;
	int body_short;		/* read ahead, and shorter than content_length */
	int body_late;		/* ... because it was not in by the deadline */
	int64_t deadline;	/* FastCGI: ms by which the body must be in (input_timeout), 0 none */
	int head;		/* HEAD: headers only */
	int replied;		/* the status answered, 0 until then */
};

int  request_init(struct request *r, FCGX_Request *fcgi, char **envp,
	const struct config *cfg);
void request_free(struct request *r);
int  request_read_ahead(struct request *r, long max);
int  request_read_json(struct request *r, long max);
int  request_etag_matches(const struct request *r, const char *etag);
void reply(struct request *r, int status, const char *headers, const char *body,
	size_t len);
void reply_typed(struct request *r, int status, const char *content_type,
	const char *headers, const char *body, size_t len);
void reply_json(struct request *r, int status, const char *headers, void *json);
void reply_error(struct request *r, int status, const char *message, const char *field);
void reply_error_headers(struct request *r, int status, const char *headers,
	const char *message, const char *field);

#endif

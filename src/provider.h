/*
 * provider.h: the image providers behind one table. Each provider is one
 * file (gemini.c, imagen.c, openai.c, placeholder.c) that fills a struct
 * provider; the worker, the throttle, the metrics and `imagegen check`
 * speak only to the table, and the HTTP collection is shared here.
 */
#ifndef IMAGEGEN_PROVIDER_H
#define IMAGEGEN_PROVIDER_H

#include <stdarg.h>
#include <stddef.h>

#include <curl/curl.h>

struct config;

/* What became of one request, for the worker to act on. */
enum provider_verdict {
	PV_OK,		/* a picture */
	PV_RETRY,	/* not now: the same request may succeed later */
	PV_FAILED,	/* this image failed here; another provider may make it */
	PV_REFUSED,	/* the content was refused: final unless failover_on_refusal */
	PV_FATAL,	/* every image of the job fails here: a bad key, an unknown model */
};

struct provider_answer {
	enum provider_verdict verdict;
	unsigned char *img;	/* the picture, malloc'd, when PV_OK */
	size_t len;
	long retry_after_ms;	/* what the provider asked us to wait, or 0 */
	long prompt_tokens;	/* usage, -1 when the provider did not say */
	long output_tokens;
	char err[512];		/* valid UTF-8, for the status JSON */
};

/* One HTTP exchange with a provider: libcurl's handle and the answer as it arrives. */
struct provider_call {
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	char *resp;
	size_t resp_len;
	size_t resp_cap;
	size_t max_answer;
	int too_big;		/* the answer passed max_answer and was refused */
	char errbuf[CURL_ERROR_SIZE];
};

struct provider {
	const char *name;	/* as `providers` names it */
	const char *key_setting;	/* what to set when the key is missing or wrong */
	const char *model_setting;
	size_t model_field;	/* offsetof(struct config, the model), 0: fixed_model */
	const char *fixed_model;	/* for a provider with no model to choose */
	size_t key_field;	/* offsetof(struct config, the key), 0: needs none */
	/* One image's request: URL, headers beyond Content-Type (the key), body. */
	int (*request)(const struct config *cfg, const char *prompt, char *url, size_t urllen,
	    struct curl_slist **headers, char **body);
	/* A 200's body: a picture, or the reason there is none. */
	void (*parse)(const char *body, size_t len, struct provider_answer *a);
	/* Any other status: its verdict and the provider's message. */
	void (*error)(const struct config *cfg, long code, const char *body, size_t len,
	    struct provider_answer *a);
	/* The free model list, for `imagegen check`; NULL when there is none. */
	int (*list_request)(const struct config *cfg, char *url, size_t urllen,
	    struct curl_slist **headers);
	/* Whether the model is in the list; 0 with why set when it is not. */
	int (*list_has_model)(const struct config *cfg, const char *body, size_t len,
	    char *why, size_t whylen);
	/* Offline providers make the picture themselves, without the network. */
	void (*render)(const struct config *cfg, const char *prompt, struct provider_answer *a);
};

/* The providers, each in its own file; provider.c's table lists them. */
extern const struct provider provider_gemini, provider_imagen, provider_openai,
	provider_local;

const struct provider *provider_at(const struct config *cfg, int i);
int  provider_count(const struct config *cfg);
const char *provider_model(const struct provider *p, const struct config *cfg);
const char *provider_key(const struct provider *p, const struct config *cfg);

int  provider_start(struct provider_call *c, const struct provider *p,
	const struct config *cfg, const char *prompt);
int  provider_start_list(struct provider_call *c, const struct provider *p,
	const struct config *cfg);
void provider_finish(struct provider_call *c, const struct provider *p,
	const struct config *cfg, CURLcode rc, struct provider_answer *a);
void provider_free(struct provider_call *c);
void provider_answer_init(struct provider_answer *a);

/* For the provider files. */
void provider_say(struct provider_answer *a, enum provider_verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void provider_text(char *dst, size_t dstlen, const char *src, size_t max);
int  provider_key_header(struct curl_slist **headers, const char *fmt, const char *key);
int  provider_b64_image(const char *b64, struct provider_answer *a, const char *what);
int  provider_transient_http(long code);
void provider_usage(const void *usage, const char *in, const char *out,
	struct provider_answer *a);

#endif

/*
 * provider.h: the image providers behind one table. Each provider is one
 * file (gemini.c, openai.c, placeholder.c) that fills a struct provider,
 * its own config keys and defaults among it; the worker, the throttle,
 * the metrics and `imagegen check` speak only to the table, and the HTTP
 * collection is shared here.
 */
#ifndef IMAGEGEN_PROVIDER_H
#define IMAGEGEN_PROVIDER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

struct config;
struct config_key;
struct config_names;

/* What became of one request, for the worker to act on. */
enum provider_verdict {
	PV_OK,		/* a picture */
	PV_RETRY,	/* not now: the same request may succeed later */
	PV_FAILED,	/* this image failed here; another model or provider may make it */
	PV_REFUSED,	/* the content was refused: final unless failover_on_refusal */
	PV_GONE,	/* the model is retired or cannot make images: the next model, for good */
	PV_ACCOUNT,	/* the key, billing, region or quota: no more of the job to this provider */
};

struct provider_answer {
	enum provider_verdict verdict;
	unsigned char *img;	/* the picture, malloc'd, when PV_OK */
	size_t len;
	long retry_after_ms;	/* what the provider asked us to wait, or 0 */
	int quota;		/* the wait is a quota's: past the deadline, the account is spent */
	int makes_none;		/* PV_GONE: not retired, but a model that makes no images */
	long prompt_tokens;	/* usage, -1 when the provider did not say */
	long output_tokens;	/* thinking tokens included: they are billed as output */
	char stage[16];		/* the model's lifecycle stage the answer gave, or "" */
	int64_t retires_at;	/* the retirement it announced, epoch ms, or 0 */
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

/* What a provider's free model list says of one model, for `imagegen check`. */
struct provider_listing {
	int listed;		/* the list names it */
	int generates;		/* it takes the provider's image request */
	int images;		/* 1 the list says it makes images, 0 it says not, -1 silent */
	int64_t retires_at;	/* the shutdown the list announces, epoch ms, or 0 */
};

struct provider {
	const char *name;	/* as `providers` names it */
	const char *key_setting;	/* what to set when the key is missing or wrong */
	const char *model_setting;	/* the key that lists its models, "" for none */
	const char *fixed_model;	/* for a provider with no model to choose */
	/* Its own keys, alphabetical, pointing into a settings struct of its own. */
	const struct config_key *keys;
	size_t n_keys;
	size_t settings_size;
	size_t models_off;	/* offsetof its struct config_names, with model_setting */
	size_t key_off;	/* offsetof its API key (char *); with key_setting "" none */
	/* One image's request to model: URL, headers beyond Content-Type, body. */
	int (*request)(const struct config *cfg, const char *model, const char *prompt,
	    char *url, size_t urllen, struct curl_slist **headers, char **body);
	/* A 200's body: a picture, or the reason there is none. */
	void (*parse)(const char *body, size_t len, struct provider_answer *a);
	/* Any other status: its verdict and the provider's message. */
	void (*error)(const struct config *cfg, const char *model, long code, const char *body,
	    size_t len, struct provider_answer *a);
	/* The free model list; NULL when there is none. */
	int (*list_request)(const struct config *cfg, char *url, size_t urllen,
	    struct curl_slist **headers);
	/* What the list says of model; -1 when the list is not one. */
	int (*list_model)(const char *body, size_t len, const char *model,
	    struct provider_listing *l);
	/* Offline providers make the picture themselves, without the network. */
	void (*render)(const struct config *cfg, const char *prompt, struct provider_answer *a);
};

/* One step of the failover order: a provider and one of its models. */
struct provider_stage {
	const struct provider *p;
	const char *model;
	int pos;		/* its provider's place in the chain */
	int first;		/* the provider's first choice */
};
#define MAX_STAGES (MAX_PROVIDERS * MAX_MODELS)

/* The providers, each in its own file; provider.c's table lists them. */
extern const struct provider provider_gemini, provider_openai, provider_local;

const struct provider *provider_table(int i);
const struct provider *provider_named(const char *name, size_t len);
int  provider_index(const struct provider *p);
const struct provider *provider_at(const struct config *cfg, int i);
int  provider_count(const struct config *cfg);
int  provider_stages(const struct config *cfg, struct provider_stage *out);
const char *provider_model(const struct provider *p, const struct config *cfg);
const struct config_names *provider_models(const struct provider *p,
	const struct config *cfg);
const char *provider_key(const struct provider *p, const struct config *cfg);
const void *provider_settings(const struct provider *p, const struct config *cfg);

int  provider_start(struct provider_call *c, const struct provider *p,
	const struct config *cfg, const char *model, const char *prompt);
int  provider_start_list(struct provider_call *c, const struct provider *p,
	const struct config *cfg);
void provider_finish(struct provider_call *c, const struct provider *p,
	const struct config *cfg, const char *model, CURLcode rc, struct provider_answer *a);
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
int64_t provider_time(const char *text);

#endif

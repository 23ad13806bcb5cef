/* config.h: the settings of imagegen.conf, read once at start-up. */
#ifndef IMAGEGEN_CONFIG_H
#define IMAGEGEN_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define MAX_PROVIDERS 3	/* provider.c's table: gemini, openai, local */
#define MAX_MODELS 8	/* names in one provider's model list */
enum image_urls { URLS_PATH, URLS_DATA };
enum media_store { MEDIA_AUTO, MEDIA_FILES, MEDIA_DATABASE };
enum status_auth { STATUS_PUBLIC, STATUS_TOKEN };

/* How a setting's text is read, and where its value goes. */
enum config_kind {
	K_INT,		/* long, in min..max */
	K_STR,		/* char * */
	K_ENUM,		/* long: the index of the value in words */
	K_URL,		/* char *, an http or https URL */
	K_OPTURL,	/* the same, or empty */
	K_PATH,		/* char *, an absolute path */
	K_OPTPATH,	/* the same, or empty */
	K_DATABASE,	/* char *, an absolute path or a postgresql:// URI without a password */
	K_SECRET,	/* char *, never printed nor logged */
	K_NAMES,	/* struct config_names: 1..MAX_MODELS names, by spaces */
};

/* One key of imagegen.conf: the global table, or a provider's own (provider.h). */
struct config_key {
	const char *name;
	enum config_kind kind;
	size_t off;		/* into struct config, or into the provider's settings */
	long min, max;		/* K_INT's range */
	const char *const *words;	/* K_ENUM's values; the index is the value */
	const char *def;	/* the default, as it would be written in the file */
	const char *env;	/* an environment variable that overrides the file, or NULL */
};

/* A K_NAMES value: the text as written, and its names. */
struct config_names {
	char *text;
	int n;
	char *name[MAX_MODELS];
};

struct config {
	char *path;		/* the file these came from */
	char *api_tokens;	/* bearer tokens, space-separated */
	char *api_tokens_file;
	long  concurrency;
	long  connect_timeout;
	long  check_interval;	/* s between the reaper's free provider checks; 0: none */
	char *database;
	char *evidence_prompt;
	long  failover_on_refusal;	/* 1: a refused image is tried on the next provider */
	long  image_quality;
	long  image_size;
	long  image_urls;	/* enum image_urls */
	long  heartbeat_interval;	/* s */
	char *host_id;		/* as set: "" for the host's name */
	char  host[65];		/* host_id, resolved: this host's name in its claims */
	long  host_max_jobs;	/* workers this host runs at once; 0: max_inflight alone */
	long  input_timeout;	/* s: a FastCGI request's parameters and body must be in by then */
	long  job_deadline;
	long  local_delay;
	char *location_prompt;
	char *log;
	long  log_level;	/* enum log_level */
	long  max_answer;	/* bytes of one provider answer, decoded */
	long  max_body;
	long  max_inflight;
	long  max_depth;
	long  max_description;
	long  max_items;
	long  max_name;
	long  max_webhook_body;
	char *media_dir;
	long  media_store;	/* enum media_store, as set */
	int   media_in_db;	/* media_store, resolved: the pictures in the database */
	char *media_url;
	char *price_per_image;	/* USD: "gemini:0.039 openai:0.042", or one number for all */
	char *price_per_mtok;	/* USD per million output tokens, the same way; "" for none */
	char *provider;		/* one provider's name, when providers is empty */
	char *providers;	/* the failover chain, names separated by spaces */
	int   chain[MAX_PROVIDERS];	/* indexes into provider.c's table */
	int   n_chain;
	void *settings[MAX_PROVIDERS];	/* each provider's own keys, by table index */
	long  rate_limit;	/* image API requests per minute, host-wide */
	long  reap_interval;	/* s */
	long  request_timeout;
	long  retry_attempts;
	long  retry_base;	/* ms */
	long  retry_cap;	/* ms */
	long  status_auth;	/* enum status_auth */
	char *status_url;
	long  stale_after;	/* s */
	long  stuck_after;	/* s */
	long  threads;		/* FastCGI requests served at once by one process */
	long  webhook_interval;
	long  webhook_retries;
	char *webhook_allow;	/* URL prefixes a webhookUrl may start with */
	long  webhook_private;	/* 1: private destinations allowed */
	char *webhook_secret;	/* whsec_...: signs outbound webhooks */
	char *webhook_verify_secrets;	/* whsec_... ...: inbound updates must be signed */
	long  webhook_verify;	/* 1 (on): unsigned progress updates are refused */
	char *image_url_allow;	/* http(s) URL prefixes an update's image URL may start with */
	long  webhook_timeout;
};

const char *config_default_path(void);
int  config_load(struct config *cfg, const char *path, char *err, size_t errlen);
int  config_parse(struct config *cfg, const char *name, const char *text,
	char *err, size_t errlen);
int  config_set(const struct config_key *k, void *base, const char *text, char *err,
	size_t errlen);
void config_defaults(struct config *cfg);
double config_price(const char *list, const char *provider);
void config_print(const struct config *cfg, FILE *out);
void config_free(struct config *cfg);

#endif

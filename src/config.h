/* config.h: the settings of imagegen.conf, read once at start-up. */
#ifndef IMAGEGEN_CONFIG_H
#define IMAGEGEN_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum provider { PROVIDER_IMAGEN, PROVIDER_LOCAL };
enum image_urls { URLS_PATH, URLS_DATA };
enum status_auth { STATUS_PUBLIC, STATUS_TOKEN };

struct config {
	char *path;		/* the file these came from */
	char *api_key;
	char *api_tokens;	/* bearer tokens, space-separated */
	char *api_tokens_file;
	long  concurrency;
	long  connect_timeout;
	char *database;
	char *evidence_prompt;
	long  image_quality;
	long  image_size;
	long  image_urls;	/* enum image_urls */
	char *imagen_model;
	char *imagen_url;
	long  heartbeat_interval;	/* s */
	long  job_deadline;
	long  local_delay;
	char *location_prompt;
	char *log;
	long  log_level;	/* enum log_level */
	long  max_body;
	long  max_inflight;
	long  max_depth;
	long  max_description;
	long  max_items;
	long  max_name;
	long  max_webhook_body;
	char *media_dir;
	char *media_url;
	long  provider;		/* enum provider */
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
void config_defaults(struct config *cfg);
void config_print(const struct config *cfg, FILE *out);
void config_free(struct config *cfg);

#endif

/* notify.h: progress webhooks to the caller, sent from the worker's event loop. */
#ifndef IMAGEGEN_NOTIFY_H
#define IMAGEGEN_NOTIFY_H

#include <stdint.h>

#include <curl/curl.h>

struct config;
struct delivery_row;
struct notify;

struct notify *notify_new(const struct config *cfg, CURLM *multi, const char *case_id);
int     notify_owns(const struct notify *n, CURL *easy);
void    notify_done(struct notify *n, CURLcode rc, int64_t now);
void    notify_tick(struct notify *n, int64_t now);
int64_t notify_next_due(const struct notify *n);
int     notify_idle(const struct notify *n);
void    notify_persist(struct notify *n, int64_t now);
int64_t notify_lease_ms(const struct config *cfg);
int     notify_redeliver(const struct config *cfg, const struct delivery_row *r,
	int64_t now);
void    notify_free(struct notify *n);

#endif

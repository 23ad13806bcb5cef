/* store_dispatch.h: the dispatch tables of a state host and of a worker host (migration 17). */
#ifndef IMAGEGEN_STORE_DISPATCH_H
#define IMAGEGEN_STORE_DISPATCH_H

#include <stdint.h>

#define DISPATCH_ID_MAX 100

/* State host. */
int store_dispatch_new(const char *case_id, int64_t now);
int store_dispatch_current(const char *case_id, const char *dispatch_id);
int store_dispatch_to_send(const char *case_id, char id[DISPATCH_ID_MAX]);
int store_dispatch_sent(const char *case_id, const char *dispatch_id, int64_t now);
int store_dispatch_failed(const char *case_id, const char *dispatch_id, const char *error,
	int64_t now, int64_t *next_at);
int store_dispatch_heard(const char *case_id, const char *dispatch_id, const char *host,
	int final, int64_t now);
int store_dispatch_each_due(int64_t now, int64_t stale_ms, long max_jobs,
	int (*fn)(const char *case_id, int redispatched, void *arg), void *arg);

/* Worker host. */
int store_dispatch_seen(const char *webhook_id, int64_t now);
int store_dispatch_receive(const char *case_id, const char *dispatch_id, int64_t now);
int store_dispatch_local(const char *case_id, char id[DISPATCH_ID_MAX]);
int store_dispatch_is_handed(const char *case_id, const char *item_id);
int store_dispatch_hand(const char *case_id, const char *item_id, int64_t now, char **path);
int store_dispatch_fence(const char *case_id, int64_t now);
int store_dispatch_clear_finished(const char *case_id);

void store_dispatch_close(void);

#endif

/* store_dispatch.h: the dispatch tables of a state host and of a worker host (migrations 16 and 17). */
#ifndef IMAGEGEN_STORE_DISPATCH_H
#define IMAGEGEN_STORE_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#define DISPATCH_ID_MAX 100
#define DISPATCH_HOSTS_MAX 64
#define DISPATCH_HOSTS_MAX_S "64"

struct dispatch_host_metrics {
	char host[256];
	int64_t applied, fenced, images;
};

struct dispatch_metrics {
	int64_t dispatches, redispatches, queued, sent;
	struct dispatch_host_metrics hosts[DISPATCH_HOSTS_MAX];
	int n_hosts;
};

/* State host. */
int store_dispatch_new(const char *case_id, int64_t now);
int store_dispatch_current(const char *case_id, const char *dispatch_id);
int store_dispatch_to_send(const char *case_id, char id[DISPATCH_ID_MAX]);
int store_dispatch_claim(const char *case_id, int64_t now, int64_t lease_until,
	long max_jobs, char id[DISPATCH_ID_MAX]);
int64_t store_dispatch_busy(void);
int store_dispatch_again(const char *case_id, int64_t next_at);
int store_dispatch_withdraw(const char *case_id);
int store_dispatch_sent(const char *case_id, const char *dispatch_id, const char *host,
	int64_t now);
int store_dispatch_failed(const char *case_id, const char *dispatch_id, const char *error,
	int64_t now, int64_t *next_at);
int store_dispatch_heard(const char *case_id, const char *dispatch_id, const char *host,
	int final, int64_t now);
int store_dispatch_reaper_here(int64_t now, int64_t stale_ms);
int store_dispatch_each_due(int64_t now, int64_t stale_ms, long max_jobs,
	int (*fn)(const char *case_id, int redispatched, void *arg), void *arg);
int store_dispatch_count(const char *host, int fenced, int64_t now);
int store_dispatch_metrics(struct dispatch_metrics *m);
int store_dispatch_image_host(const char *case_id, const char *item_id, char *host,
	size_t len);

/* Worker host. */
int store_dispatch_receive(const char *case_id, const char *dispatch_id, int64_t now);
int store_dispatch_local(const char *case_id, char id[DISPATCH_ID_MAX]);
int store_dispatch_is_handed(const char *case_id, const char *item_id);
int store_dispatch_hand(const char *case_id, const char *item_id, int64_t now, char **path);
int store_dispatch_fence(const char *case_id, int64_t now);
int store_dispatch_fenced(const char *case_id);
int store_dispatch_clear_finished(const char *case_id);

void store_dispatch_close(void);

#endif

/* store_progress.h: a progress update from a worker elsewhere, applied to the store; the webhook-ids seen. */
#ifndef IMAGEGEN_STORE_PROGRESS_H
#define IMAGEGEN_STORE_PROGRESS_H

#include <stdint.h>

struct progress;

/* How this host judges a job's holder: worker_holds (worker.c). */
typedef int store_holds_fn(const char *my_host, const char *host_id, long pid,
	const char *case_id, int64_t lease_until, int64_t now);

int store_progress_owner(const char *case_id, const char *my_host, store_holds_fn *holds,
	int64_t now, char status[12], long *total, long *pid);
int store_apply_progress(const struct progress *p, const char *webhook_id, int64_t now,
	const char *my_host, store_holds_fn *holds);

#endif

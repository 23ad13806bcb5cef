/* store_progress.h: a progress update from a worker elsewhere, applied to the store; the webhook-ids seen. */
#ifndef IMAGEGEN_STORE_PROGRESS_H
#define IMAGEGEN_STORE_PROGRESS_H

#include <stdint.h>

struct progress;

int store_progress_owner(const char *case_id, int (*alive)(long pid, const char *case_id),
	char status[12], long *total, long *pid);
int store_apply_progress(const struct progress *p, const char *webhook_id, int64_t now,
	int (*alive)(long pid, const char *case_id));
int store_webhook_seen(const char *webhook_id, int64_t now);

#endif

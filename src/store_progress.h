/* store_progress.h: a progress update from a worker elsewhere, applied to the store. */
#ifndef IMAGEGEN_STORE_PROGRESS_H
#define IMAGEGEN_STORE_PROGRESS_H

#include <stdint.h>

struct progress;

int store_apply_progress(const struct progress *p, const char *webhook_id, int64_t now);

#endif

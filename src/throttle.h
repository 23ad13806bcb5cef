/* throttle.h: each image provider's host-wide limits: requests in flight, requests per minute. */
#ifndef IMAGEGEN_THROTTLE_H
#define IMAGEGEN_THROTTLE_H

#include <stdint.h>

struct config;
struct throttle;

struct throttle *throttle_open(const struct config *cfg, const char *provider);
int  throttle_acquire(struct throttle *l, const char *case_id, int64_t now, int64_t *retry_at);
void throttle_release(struct throttle *l, int slot);
void throttle_close(struct throttle *l);

#endif

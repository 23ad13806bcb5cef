/* limits.h: the image API's host-wide limits: requests in flight, requests per minute. */
#ifndef IMAGEGEN_LIMITS_H
#define IMAGEGEN_LIMITS_H

#include <stdint.h>

struct config;
struct limits;

struct limits *limits_open(const struct config *cfg);
int  limits_acquire(struct limits *l, const char *case_id, int64_t now, int64_t *retry_at);
void limits_release(struct limits *l, int slot);
void limits_close(struct limits *l);

#endif

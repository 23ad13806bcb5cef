/* store_outbox.h: progress webhooks written with the state they report. */
#ifndef IMAGEGEN_STORE_OUTBOX_H
#define IMAGEGEN_STORE_OUTBOX_H

#include <stdint.h>

struct delivery_row;

int64_t store_outbox_add(const char *case_id, const char *event, const char *payload,
	int64_t now);
int64_t store_outbox_last(void);
int     store_outbox_attempt(int64_t id, int attempts);
int     store_outbox_lease(int64_t id, const char *host, int64_t now, int64_t lease_ms);
int     store_outbox_next(const char *case_id, struct delivery_row *r);

#endif

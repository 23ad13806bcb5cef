/* store_outbox.h: progress webhooks written with the state they report. */
#ifndef IMAGEGEN_STORE_OUTBOX_H
#define IMAGEGEN_STORE_OUTBOX_H

#include <stdint.h>

struct config;
struct delivery_row;

void    store_outbox_use(const struct config *cfg);
int64_t store_outbox_add(const char *case_id, const char *event, int64_t now);
int64_t store_outbox_last(void);
int     store_outbox_next(const char *case_id, struct delivery_row *r);
int     store_outbox_trim(int64_t id);
int     store_outbox_attempt(int64_t id, int attempts);
void    store_outbox_close(void);

#endif

/* handover.h: a worker host's side of a dispatch: its updates, acknowledgements, fencing. */
#ifndef IMAGEGEN_HANDOVER_H
#define IMAGEGEN_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct image;

int  handover_dispatched(const struct config *cfg, const char *case_id, char *id,
	size_t len);
int  handover_progress(const struct config *cfg, void *update, const char *case_id,
	const char *dispatch_id, const struct image *images, size_t n);
int  handover_answered(const struct config *cfg, const char *case_id, const char *payload,
	long code, int64_t now);
void handover_discard(const struct config *cfg, const char *case_id);
void handover_prune(const struct config *cfg, const char *case_id, char **payload);
int  handover_retry(const struct config *cfg, const char *case_id, int64_t *delay);
void handover_heartbeat(const struct config *cfg, const char *case_id, int64_t now);
void handover_host_name(const struct config *cfg, char *out, size_t len);

#endif

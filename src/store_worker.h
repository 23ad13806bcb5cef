/*
 * store_worker.h: the writes a worker makes on the job it claimed, each
 * fenced by its claim's epoch (migration 21). A write that finds the
 * epoch moved answers STORE_FENCED: another worker, on this host or
 * another, took the job, and this one must stop at once.
 */
#ifndef IMAGEGEN_STORE_WORKER_H
#define IMAGEGEN_STORE_WORKER_H

#include <stdint.h>

#define STORE_FENCED (-2)

struct claim {
	char case_id[65];
	int64_t epoch;		/* the job's, as this worker's claim set it */
};

struct media_blob {
	const unsigned char *jpeg;	/* media_store = database: the picture, or NULL */
	size_t len;
};

int store_claim(struct claim *c, const char *host, long pid, int64_t now, int64_t lease_ms,
	const char *update);
int store_heartbeat(const struct claim *c, int64_t now, int64_t lease_ms);
int store_image_started(const struct claim *c, const char *item_id, const char *provider,
	const char *model, int64_t now);
int store_image_completed(const struct claim *c, const char *item_id, const char *path,
	const char *url, long bytes, long api_ms, const struct media_blob *blob, int64_t now,
	const char *update);
int store_image_failed(const struct claim *c, const char *item_id, const char *error,
	long api_ms, int64_t now, const char *update);
int store_image_retry(const struct claim *c, const char *item_id, const char *error);
int store_image_interrupted(const struct claim *c, const char *item_id);
int store_image_usage(const struct claim *c, const char *item_id, long prompt_tokens,
	long output_tokens);
int store_finish(const struct claim *c, const char *status, int64_t now, const char *update);

#endif

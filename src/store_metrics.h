/* store_metrics.h: the aggregate queries behind the metrics route. */
#ifndef IMAGEGEN_STORE_METRICS_H
#define IMAGEGEN_STORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_BUCKETS 8

/* The order of metrics_data.jobs and .deliveries; the label values are these names. */
enum metrics_job_status {
	MJ_PENDING, MJ_GENERATING, MJ_COMPLETED, MJ_PARTIAL, MJ_FAILED, MJ_COUNT
};
enum metrics_delivery_status { MD_DELIVERED, MD_FAILED, MD_PENDING, MD_COUNT };

extern const char *const metrics_job_status_names[MJ_COUNT];
extern const char *const metrics_delivery_status_names[MD_COUNT];

#define METRICS_MAX_PROVIDERS 8

/* What one provider made, from images.provider (migration 10). */
struct metrics_provider {
	char name[16];			/* [a-z0-9_-] only: a label value as it is */
	int64_t completed, failed;
	int64_t prompt_tokens, output_tokens;	/* as the provider reported them */
	int64_t untokened;		/* completed images with no output token count */
};

#define METRICS_MAX_MODELS 32

/*
 * One model: what it made, from images.model, and what the store knows of
 * its retirement (migration 19).
 */
struct metrics_model {
	char provider[16];		/* both [A-Za-z0-9._-] only: label values as they are */
	char model[128];
	int64_t completed, failed;
	int64_t retired_at;		/* marked retired, epoch ms, or 0 */
	int64_t retires_at;		/* the retirement announced, epoch ms, or 0 */
};

/* Cumulative buckets, as Prometheus has them: bucket[i] counts values <= le_ms[i]. */
struct metrics_histogram {
	size_t n;			/* buckets in use, +Inf apart */
	int64_t le_ms[METRICS_MAX_BUCKETS];
	int64_t bucket[METRICS_MAX_BUCKETS];
	int64_t count;			/* the +Inf bucket */
	int64_t sum_ms;
};

struct metrics_data {
	int64_t jobs[MJ_COUNT];
	int64_t images_completed, images_failed;
	int64_t retries;		/* sum of max(attempts - 1, 0) */
	int64_t interrupted;		/* attempts a worker's death cut short */
	struct metrics_histogram job_duration;	/* finished jobs */
	struct metrics_histogram api_latency;	/* images.api_ms */
	int64_t deliveries[MD_COUNT];
	struct metrics_histogram webhook_latency;	/* delivered rows */
	int64_t stuck_jobs;
	int64_t queued_jobs;		/* pending, waiting for a place (queued_at) */
	struct metrics_provider providers[METRICS_MAX_PROVIDERS];
	size_t n_providers;
	struct metrics_model models[METRICS_MAX_MODELS];
	size_t n_models;
};

const struct metrics_model *metrics_find_model(const struct metrics_data *m,
	const char *provider, const char *model);

int  store_metrics_read(struct metrics_data *m, int64_t now_ms, long stuck_after_s);
void store_metrics_close(void);

#endif

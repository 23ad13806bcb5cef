/*
 * metrics.c: GET /api/metrics/image-generation: the store's figures as
 * Prometheus text (exposition format 0.0.4), or as JSON when asked.
 * Everything is read from the database, so every responder gives the same
 * answer and the figures survive restarts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "provider.h"
#include "request.h"
#include "store_dispatch.h"
#include "store_metrics.h"

#define TEXT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* The figures change all the time, and the body depends on Accept. */
#define HEADERS "Cache-Control: no-store\r\nVary: Accept\r\n"

/* The shortest of %.15g and %.17g that reads back as the same double. */
static void
fmt_double(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
}

static double
ratio(int64_t part, int64_t whole)
{
	return whole > 0 ? (double)part / (double)whole : 0.0;
}

/* RFC 9110 12.4.2: a weight of 0 means "not acceptable". */
static int
q_is_zero(const char *params, size_t len)
{
	for (const char *p = params; p < params + len; p++)
		if (*p == ';' && p + 1 < params + len) {
			const char *v = p + 1 + strspn(p + 1, " \t");
			if (strncasecmp(v, "q=", 2) == 0)
				return strtod(v + 2, NULL) == 0.0;
		}
	return 0;
}

/* RFC 9110 12.5.1: Accept is a list of media ranges, each with optional parameters. */
static int
wants_json(const char *accept)
{
	static const char want[] = "application/json";
	const size_t n = sizeof(want) - 1;
	for (const char *p = accept; p != NULL; ) {
		p += strspn(p, " \t");
		size_t len = strcspn(p, ",");
		size_t type = strcspn(p, ",; \t");
		if (type == n && strncasecmp(p, want, n) == 0 && !q_is_zero(p + n, len - n))
			return 1;
		p = p[len] == ',' ? p + len + 1 : NULL;
	}
	return 0;
}

/* --- Prometheus text ---------------------------------------------------- */

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
labelled(FILE *f, const char *name, const char *label, const char *value, int64_t n)
{
	fprintf(f, "%s{%s=\"%s\"} %" PRId64 "\n", name, label, value, n);
}

static void
real(FILE *f, const char *name, double v)
{
	char num[32];
	fmt_double(num, sizeof(num), v);
	fprintf(f, "%s %s\n", name, num);
}

static void
text_histogram(FILE *f, const char *name, const char *help,
    const struct metrics_histogram *h)
{
	char num[32];
	family(f, name, "histogram", help);
	for (size_t i = 0; i < h->n; i++) {
		fmt_double(num, sizeof(num), (double)h->le_ms[i] / 1000.0);
		fprintf(f, "%s_bucket{le=\"%s\"} %" PRId64 "\n", name, num, h->bucket[i]);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRId64 "\n", name, h->count);
	fmt_double(num, sizeof(num), (double)h->sum_ms / 1000.0);
	fprintf(f, "%s_sum %s\n%s_count %" PRId64 "\n", name, num, name, h->count);
}

static void
text_jobs_images(FILE *f, const struct metrics_data *m)
{
	int64_t done = m->images_completed + m->images_failed;
	family(f, "imagegen_jobs", "gauge", "Jobs by status.");
	for (int i = 0; i < MJ_COUNT; i++)
		labelled(f, "imagegen_jobs", "status", metrics_job_status_names[i], m->jobs[i]);
	family(f, "imagegen_images_total", "counter", "Images by final result.");
	labelled(f, "imagegen_images_total", "result", "completed", m->images_completed);
	labelled(f, "imagegen_images_total", "result", "failed", m->images_failed);
	family(f, "imagegen_image_success_ratio", "gauge",
	    "Completed images over finished images; 0 when there are none.");
	real(f, "imagegen_image_success_ratio", ratio(m->images_completed, done));
	family(f, "imagegen_image_failure_ratio", "gauge",
	    "Failed images over finished images; 0 when there are none.");
	real(f, "imagegen_image_failure_ratio", ratio(m->images_failed, done));
	family(f, "imagegen_image_retries_total", "counter",
	    "Image API requests beyond the first, over all images.");
	fprintf(f, "imagegen_image_retries_total %" PRId64 "\n", m->retries);
	family(f, "imagegen_image_attempts_interrupted_total", "counter",
	    "Image API requests cut short by their worker's death; not retries.");
	fprintf(f, "imagegen_image_attempts_interrupted_total %" PRId64 "\n", m->interrupted);
}

/*
 * An estimate from the configured prices: per million output tokens where
 * the provider counted them and price_per_mtok names it, else per image.
 */
static double
estimated_cost(const struct config *cfg, const struct metrics_provider *p)
{
	double per_image = config_price(cfg->price_per_image, p->name);
	double per_mtok = config_price(cfg->price_per_mtok, p->name);
	if (per_image < 0)
		per_image = 0;
	if (per_mtok < 0)
		return (double)p->completed * per_image;
	return (double)p->output_tokens * per_mtok / 1e6 + (double)p->untokened * per_image;
}

/* name{provider="P",label="value"} n */
static void
by_provider(FILE *f, const char *name, const char *provider, const char *label,
    const char *value, int64_t n)
{
	fprintf(f, "%s{provider=\"%s\",%s=\"%s\"} %" PRId64 "\n", name, provider, label, value,
	    n);
}

static void
text_providers(FILE *f, const struct config *cfg, const struct metrics_data *m)
{
	static const char images[] = "imagegen_provider_images_total",
	    tokens[] = "imagegen_provider_tokens_total";
	char num[32];
	family(f, images, "counter",
	    "Images by the provider that made them, or failed them last, and result.");
	for (size_t i = 0; i < m->n_providers; i++) {
		const struct metrics_provider *p = &m->providers[i];
		by_provider(f, images, p->name, "result", "completed", p->completed);
		by_provider(f, images, p->name, "result", "failed", p->failed);
	}
	family(f, tokens, "counter", "Tokens of the images made, as each provider reported them.");
	for (size_t i = 0; i < m->n_providers; i++) {
		const struct metrics_provider *p = &m->providers[i];
		by_provider(f, tokens, p->name, "kind", "prompt", p->prompt_tokens);
		by_provider(f, tokens, p->name, "kind", "output", p->output_tokens);
	}
	family(f, "imagegen_provider_estimated_cost_usd_total", "counter",
	    "Estimated cost of the images made, from price_per_image and price_per_mtok.");
	for (size_t i = 0; i < m->n_providers; i++) {
		fmt_double(num, sizeof(num), estimated_cost(cfg, &m->providers[i]));
		fprintf(f, "imagegen_provider_estimated_cost_usd_total{provider=\"%s\"} %s\n",
		    m->providers[i].name, num);
	}
}

/*
 * By model: what each made; and for each configured model, whether it is
 * marked retired and when it retires, announced or found (the alert rules
 * in etc/prometheus/imagegen-rules.yml fire on these).
 */
static void
text_models(FILE *f, const struct config *cfg, const struct metrics_data *m)
{
	static const char images[] = "imagegen_model_images_total",
	    when[] = "imagegen_model_retirement_timestamp_seconds",
	    retired[] = "imagegen_model_retired";
	struct provider_stage st[MAX_STAGES];
	int n = provider_stages(cfg, st);
	family(f, images, "counter",
	    "Images by the model that made them, or failed them last, and result.");
	for (size_t i = 0; i < m->n_models; i++) {
		const struct metrics_model *x = &m->models[i];
		fprintf(f, "%s{provider=\"%s\",model=\"%s\",result=\"completed\"} %" PRId64
		    "\n%s{provider=\"%s\",model=\"%s\",result=\"failed\"} %" PRId64 "\n",
		    images, x->provider, x->model, x->completed, images, x->provider, x->model,
		    x->failed);
	}
	family(f, when, "gauge", "When a configured model retires, as its provider announced"
	    " it, or when it was found retired; absent while none is known.");
	for (int i = 0; i < n; i++) {
		const struct metrics_model *x = metrics_find_model(m, st[i].p->name, st[i].model);
		int64_t t = x == NULL ? 0 : x->retired_at ? x->retired_at : x->retires_at;
		if (t > 0)
			fprintf(f, "%s{provider=\"%s\",model=\"%s\"} %" PRId64 "\n", when,
			    st[i].p->name, st[i].model, t / 1000);
	}
	family(f, retired, "gauge", "1 when a configured model is marked retired: every job"
	    " passes it by.");
	for (int i = 0; i < n; i++) {
		const struct metrics_model *x = metrics_find_model(m, st[i].p->name, st[i].model);
		if (st[i].p->render == NULL)
			fprintf(f, "%s{provider=\"%s\",model=\"%s\"} %d\n", retired,
			    st[i].p->name, st[i].model, x != NULL && x->retired_at != 0);
	}
}

/* A state host's (dispatch_url): dispatches, and updates by worker host. */
static void
text_dispatch(FILE *f, const struct dispatch_metrics *d)
{
	static const char up[] = "imagegen_dispatch_updates_total";
	family(f, "imagegen_dispatches_total", "counter",
	    "Dispatches made, the first of each job and those made again.");
	fprintf(f, "imagegen_dispatches_total %" PRId64 "\n", d->dispatches);
	family(f, "imagegen_redispatches_total", "counter",
	    "Dispatches made again after stale_after of silence.");
	fprintf(f, "imagegen_redispatches_total %" PRId64 "\n", d->redispatches);
	family(f, "imagegen_dispatches", "gauge", "Unfinished dispatches by state.");
	labelled(f, "imagegen_dispatches", "state", "queued", d->queued);
	labelled(f, "imagegen_dispatches", "state", "sent", d->sent);
	family(f, up, "counter", "Progress updates from worker hosts, applied or fenced (409).");
	for (int i = 0; i < d->n_hosts; i++) {
		fprintf(f, "%s{worker_host=\"%s\",result=\"applied\"} %" PRId64 "\n", up,
		    d->hosts[i].host, d->hosts[i].applied);
		fprintf(f, "%s{worker_host=\"%s\",result=\"fenced\"} %" PRId64 "\n", up,
		    d->hosts[i].host, d->hosts[i].fenced);
	}
}

static void
text_write(FILE *f, const struct config *cfg, const struct metrics_data *m)
{
	struct dispatch_metrics d;
	if (*cfg->dispatch_url != '\0' && store_dispatch_metrics(&d) == 0)
		text_dispatch(f, &d);
	text_jobs_images(f, m);
	text_histogram(f, "imagegen_job_duration_seconds",
	    "Time from start to finish of finished jobs.", &m->job_duration);
	text_histogram(f, "imagegen_image_api_latency_seconds",
	    "Time the image API took to answer an image's last attempt.", &m->api_latency);
	family(f, "imagegen_webhook_deliveries_total", "counter",
	    "Progress webhook deliveries by result.");
	labelled(f, "imagegen_webhook_deliveries_total", "status", "delivered",
	    m->deliveries[MD_DELIVERED]);
	labelled(f, "imagegen_webhook_deliveries_total", "status", "failed",
	    m->deliveries[MD_FAILED]);
	/* Not a counter: deliveries leave it as they land. */
	family(f, "imagegen_webhook_deliveries_pending", "gauge",
	    "Progress webhook deliveries waiting to be sent or sent again.");
	fprintf(f, "imagegen_webhook_deliveries_pending %" PRId64 "\n",
	    m->deliveries[MD_PENDING]);
	text_histogram(f, "imagegen_webhook_delivery_latency_seconds",
	    "Duration of the last attempt of delivered webhooks.", &m->webhook_latency);
	family(f, "imagegen_stuck_jobs", "gauge",
	    "Jobs generating for longer than stuck_after seconds.");
	fprintf(f, "imagegen_stuck_jobs %" PRId64 "\n", m->stuck_jobs);
	family(f, "imagegen_queued_jobs", "gauge",
	    "Pending jobs waiting for a place: max_inflight workers are at work.");
	fprintf(f, "imagegen_queued_jobs %" PRId64 "\n", m->queued_jobs);
	text_providers(f, cfg, m);
	text_models(f, cfg, m);
}

static void
send_text(struct request *r, const struct metrics_data *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) {
		log_error("metrics: open_memstream: %s", strerror(errno));
		reply_error(r, 500, "internal error", NULL);
		return;
	}
	text_write(f, r->cfg, m);
	int bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		log_error("metrics: cannot format the text exposition");
		reply_error(r, 500, "internal error", NULL);
	} else {
		reply_typed(r, 200, TEXT_TYPE, HEADERS, buf, len);
	}
	free(buf);
}

/* --- JSON ----------------------------------------------------------------- */

static cJSON *json_build_all(const struct config *cfg, const struct metrics_data *m);

static int
add_num(cJSON *o, const char *key, double v)
{
	return cJSON_AddNumberToObject(o, key, v) != NULL ? 0 : -1;
}

static int
json_histogram(cJSON *parent, const char *key, const struct metrics_histogram *h)
{
	char le[32];
	cJSON *o = cJSON_AddObjectToObject(parent, key);
	cJSON *b = o ? cJSON_AddObjectToObject(o, "buckets") : NULL;
	if (b == NULL)
		return -1;
	for (size_t i = 0; i < h->n; i++) {
		fmt_double(le, sizeof(le), (double)h->le_ms[i] / 1000.0);
		if (add_num(b, le, (double)h->bucket[i]) != 0)
			return -1;
	}
	return add_num(b, "+Inf", (double)h->count) != 0 ||
	    add_num(o, "sum", (double)h->sum_ms / 1000.0) != 0 ||
	    add_num(o, "count", (double)h->count) != 0 ? -1 : 0;
}

static int
json_counts(cJSON *o, const char *const *names, const int64_t *counts, int n)
{
	for (int i = 0; i < n; i++)
		if (add_num(o, names[i], (double)counts[i]) != 0)
			return -1;
	return 0;
}

static int
json_images(cJSON *parent, const struct metrics_data *m)
{
	int64_t done = m->images_completed + m->images_failed;
	cJSON *o = cJSON_AddObjectToObject(parent, "images");
	return o == NULL ||
	    add_num(o, "completed", (double)m->images_completed) != 0 ||
	    add_num(o, "failed", (double)m->images_failed) != 0 ||
	    add_num(o, "successRatio", ratio(m->images_completed, done)) != 0 ||
	    add_num(o, "failureRatio", ratio(m->images_failed, done)) != 0 ||
	    add_num(o, "retries", (double)m->retries) != 0 ||
	    add_num(o, "interrupted", (double)m->interrupted) != 0 ? -1 : 0;
}

static int
json_webhooks(cJSON *parent, const struct metrics_data *m)
{
	cJSON *o = cJSON_AddObjectToObject(parent, "webhooks");
	return o == NULL ||
	    json_counts(o, metrics_delivery_status_names, m->deliveries, MD_COUNT) != 0 ||
	    json_histogram(o, "latencySeconds", &m->webhook_latency) != 0 ? -1 : 0;
}

static int
json_providers(cJSON *parent, const struct config *cfg, const struct metrics_data *m)
{
	cJSON *all = cJSON_AddObjectToObject(parent, "providers");
	for (size_t i = 0; all != NULL && i < m->n_providers; i++) {
		const struct metrics_provider *p = &m->providers[i];
		cJSON *o = cJSON_AddObjectToObject(all, p->name);
		if (o == NULL || add_num(o, "completed", (double)p->completed) != 0 ||
		    add_num(o, "failed", (double)p->failed) != 0 ||
		    add_num(o, "promptTokens", (double)p->prompt_tokens) != 0 ||
		    add_num(o, "outputTokens", (double)p->output_tokens) != 0 ||
		    add_num(o, "estimatedCostUsd", estimated_cost(cfg, p)) != 0)
			return -1;
	}
	return all == NULL ? -1 : 0;
}

/* "gemini/gemini-nano-banana-2.1": {...}, the configured models first, in order. */
static int
json_model(cJSON *all, const char *provider, const char *model,
    const struct metrics_model *x, int configured)
{
	char key[160];
	snprintf(key, sizeof(key), "%s/%s", provider, model);
	if (cJSON_GetObjectItemCaseSensitive(all, key) != NULL)
		return 0;
	cJSON *o = cJSON_AddObjectToObject(all, key);
	int64_t t = x == NULL ? 0 : x->retired_at ? x->retired_at : x->retires_at;
	return o == NULL || !cJSON_AddStringToObject(o, "provider", provider) ||
	    !cJSON_AddStringToObject(o, "model", model) ||
	    !cJSON_AddBoolToObject(o, "configured", configured) ||
	    add_num(o, "completed", x ? (double)x->completed : 0) != 0 ||
	    add_num(o, "failed", x ? (double)x->failed : 0) != 0 ||
	    !cJSON_AddBoolToObject(o, "retired", x != NULL && x->retired_at != 0) ||
	    (t > 0 ? add_num(o, "retirementTimestampSeconds", (double)(t / 1000)) != 0 :
	    !cJSON_AddNullToObject(o, "retirementTimestampSeconds")) ? -1 : 0;
}

static int
json_models(cJSON *parent, const struct config *cfg, const struct metrics_data *m)
{
	struct provider_stage st[MAX_STAGES];
	int n = provider_stages(cfg, st);
	cJSON *all = cJSON_AddObjectToObject(parent, "models");
	for (int i = 0; all != NULL && i < n; i++)
		if (st[i].p->render == NULL && json_model(all, st[i].p->name, st[i].model,
		    metrics_find_model(m, st[i].p->name, st[i].model), 1) != 0)
			return -1;
	for (size_t i = 0; all != NULL && i < m->n_models; i++)
		if (json_model(all, m->models[i].provider, m->models[i].model, &m->models[i],
		    0) != 0)
			return -1;
	return all == NULL ? -1 : 0;
}

static int
json_dispatch(cJSON *parent, const struct dispatch_metrics *d)
{
	cJSON *o = cJSON_AddObjectToObject(parent, "dispatch");
	cJSON *hosts = o ? cJSON_AddObjectToObject(o, "workerHosts") : NULL;
	if (hosts == NULL || add_num(o, "dispatches", (double)d->dispatches) != 0 ||
	    add_num(o, "redispatches", (double)d->redispatches) != 0 ||
	    add_num(o, "queued", (double)d->queued) != 0 ||
	    add_num(o, "sent", (double)d->sent) != 0)
		return -1;
	for (int i = 0; i < d->n_hosts; i++) {
		cJSON *h = cJSON_AddObjectToObject(hosts, d->hosts[i].host);
		if (h == NULL || add_num(h, "updatesApplied", (double)d->hosts[i].applied) != 0 ||
		    add_num(h, "updatesFenced", (double)d->hosts[i].fenced) != 0 ||
		    add_num(h, "images", (double)d->hosts[i].images) != 0)
			return -1;
	}
	return 0;
}

static cJSON *
json_build(const struct config *cfg, const struct metrics_data *m)
{
	struct dispatch_metrics d;
	if (*cfg->dispatch_url != '\0') {
		cJSON *o = store_dispatch_metrics(&d) == 0 ? json_build_all(cfg, m) : NULL;
		if (o != NULL && json_dispatch(o, &d) != 0) {
			cJSON_Delete(o);
			return NULL;
		}
		return o;
	}
	return json_build_all(cfg, m);
}

static cJSON *
json_build_all(const struct config *cfg, const struct metrics_data *m)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *jobs = o ? cJSON_AddObjectToObject(o, "jobs") : NULL;
	if (jobs == NULL ||
	    json_counts(jobs, metrics_job_status_names, m->jobs, MJ_COUNT) != 0 ||
	    json_images(o, m) != 0 ||
	    json_histogram(o, "jobDurationSeconds", &m->job_duration) != 0 ||
	    json_histogram(o, "imageApiLatencySeconds", &m->api_latency) != 0 ||
	    json_webhooks(o, m) != 0 ||
	    add_num(o, "stuckJobs", (double)m->stuck_jobs) != 0 ||
	    add_num(o, "queuedJobs", (double)m->queued_jobs) != 0 ||
	    json_providers(o, cfg, m) != 0 || json_models(o, cfg, m) != 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void
send_json(struct request *r, const struct metrics_data *m)
{
	cJSON *o = json_build(r->cfg, m);
	if (o == NULL) {
		log_error("metrics: cannot build the JSON figures");
		reply_error(r, 500, "internal error", NULL);
		return;
	}
	reply_json(r, 200, HEADERS, o);
	cJSON_Delete(o);
}

void
metrics_handle(struct request *r, const char *rest)
{
	struct metrics_data m;
	(void)rest;
	/* store_metrics_read has logged which query failed. */
	if (store_metrics_read(&m, codec_now_ms(), r->cfg->stuck_after) != 0) {
		reply_error(r, 500, "internal error", NULL);
		return;
	}
	if (wants_json(r->accept))
		send_json(r, &m);
	else
		send_text(r, &m);
}

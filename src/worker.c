/*
 * worker.c: one job's images through a sliding window of requests in flight.
 * A new request starts the moment one finishes, evidence first; each image
 * is compressed and written on the compressor's threads as it arrives, not
 * per batch, and recorded here when it is on disk.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "codec.h"
#include "compress.h"
#include "config.h"
#include "image.h"
#include "jobjson.h"
#include "throttle.h"
#include "log.h"
#include "media.h"
#include "notify.h"
#include "picture.h"
#include "provider.h"
#include "store.h"
#include "store_provider.h"
#include "store_worker.h"
#include "worker.h"

#define DRAIN_MAX_MS 30000	/* the most the final webhooks may keep the worker */
#define DRAIN_WAIT_MS 5000	/* a retry due later than this is left to the reaper */
#define POLL_MAX_MS 250		/* the longest a cancel request waits to be seen */
#define STORE_RETRY_MS 1000	/* between two tries of a write the database did not take */
#define STORE_GRACE_MS 60000	/* past the deadline, the most the worker waits for it */
#define CLAIM_WAIT_MS 30000	/* a worker started with the database away waits this long */

/* An image's change the store has yet to take: the database was away. */
enum unrecorded { REC_NONE, REC_COMPLETED, REC_FAILED };

struct slot {
	int busy;
	size_t idx;		/* into worker.images */
	const struct provider *prov;
	int stage;		/* into worker.stages: the provider and model asked */
	struct provider_call call;
	int host_slot;		/* of the host-wide limit, -1 for none */
	int64_t started;
	int64_t due;		/* local provider: when its picture is "ready" */
};

struct worker {
	const struct config *cfg;
	struct job job;
	struct claim claim;	/* every write names it: the job is this worker's */
	struct image *images;
	size_t n;
	size_t *todo;
	size_t n_todo, next;
	int64_t *retry_at;	/* per image: when its next attempt is due, 0 if none */
	size_t n_waiting;
	int *stage;		/* per image: its place in the failover order */
	int *tries;		/* per image: attempts on that stage */
	char **why;		/* per image: each stage's reason it failed there, in order */
	int *why_from;		/* per image: the stage of its only reason; -1 past one */
	struct provider_stage stages[MAX_STAGES];	/* providers, each with its models */
	int n_stages;
	char *down[MAX_STAGES];	/* why a stage takes no more of this job's images */
	struct model_row known[MAX_STAGES];	/* each stage's model, as the store had it */
	struct slot *slots;
	int inflight;
	CURLM *multi;
	struct throttle *throttle[MAX_PROVIDERS];	/* per chain place; NULL for local */
	int64_t throttle_retry_at[MAX_PROVIDERS];
	struct notify *notify;
	struct compressor *compressor;
	int compressing;	/* tasks handed to the compressor and not yet back */
	int compress_threads;
	int stopping;		/* deadline, cancel or disk error: nothing more starts */
	int64_t deadline;
	int64_t last_heartbeat;
	int finished;		/* the job's final status is recorded: no more heartbeats */
	int64_t last_cancel_check;
	char disk_error[512];	/* media_dir cannot take files: no more paid requests */
	int disk_errno;		/* of the image that found it so, 0 for the probe */
	long largest;		/* bytes of the largest JPEG written: an image's worth */
	int64_t last_progress;
	int progress_dirty;
	unsigned char *unrec;	/* per image: an enum unrecorded */
	unsigned char **jpeg;	/* per image, media_store = database: the picture until recorded */
	size_t *jpeg_len;
	long *rec_bytes, *rec_api_ms;	/* per image: what its record says */
	size_t n_unrec;
	int64_t store_retry_at;	/* when the writes the store did not take are tried again */
	int64_t store_away_since;	/* 0 while the store takes every write */
};

static char *
make_prompt(const char *tmpl, const struct image *im)
{
	size_t cap = strlen(tmpl) + 1;
	for (const char *p = tmpl; (p = strchr(p, '{')) != NULL; p++)
		cap += strlen(im->name) + strlen(im->description);
	char *out = malloc(cap), *o = out;
	if (out == NULL)
		return NULL;
	for (const char *p = tmpl; *p != '\0';) {
		const char *v = NULL;
		size_t skip = 1;
		if (strncmp(p, "{name}", 6) == 0)
			v = im->name, skip = 6;
		else if (strncmp(p, "{description}", 13) == 0)
			v = im->description, skip = 13;
		if (v != NULL) {
			o = stpcpy(o, v);
			p += skip;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static char *
prompt_for(const struct worker *w, const struct image *im)
{
	return make_prompt(im->kind == KIND_EVIDENCE ? w->cfg->evidence_prompt
	    : w->cfg->location_prompt, im);
}

static int
unfinished(const struct worker *w)
{
	return w->next < w->n_todo || w->inflight > 0 || w->n_waiting > 0 ||
	    w->compressing > 0 || w->n_unrec > 0;
}

/*
 * A write found the job's epoch moved on: another worker, here or on
 * another host, resumed the job after this one's lease ran out. This one
 * stops at once: no further paid call, and nothing more stored.
 */
static _Noreturn void
taken(const struct worker *w)
{
	log_error("case %s: the job was taken by another worker (epoch %lld is no longer"
	    " the job's); stopping", w->job.case_id, (long long)w->claim.epoch);
	_exit(1);
}

/* A worker write's answer: fenced stops the worker; else 0, or -1 on error. */
static int
written(const struct worker *w, int rc)
{
	if (rc == STORE_FENCED)
		taken(w);
	return rc;
}

/*
 * The update the caller's webhook gets for a change, rendered from the
 * worker's view of its job (it is the job's one writer) before the store
 * writes the change and the update together: the store's transaction
 * reads no file and renders nothing. NULL when the job has no webhookUrl.
 */
static char *
update_for(struct worker *w, const char *status)
{
	struct job job = w->job;
	if (job.webhook_url == NULL)
		return NULL;
	snprintf(job.status, sizeof(job.status), "%s", status);
	char *update = jobjson_progress(w->cfg, &job, w->images, w->n);
	if (update == NULL)
		log_error("case %s: cannot build the webhook update; not sent", job.case_id);
	return update;
}

/*
 * With image_urls = data each update carries every picture made so far
 * (jobjson_inline): progress goes at each quarter of the case only, and
 * not for its last image, which the final reports (store_outbox.c).
 */
static int
progress_due(const struct worker *w)
{
	int done = w->job.completed + w->job.failed, total = w->job.total;
	if (w->cfg->image_urls != URLS_DATA)
		return 1;
	return done > 0 && done < total && 4 * done / total > 4 * (done - 1) / total;
}

/* One image's record, with the update that reports the job as it now stands. */
static int
write_image(struct worker *w, size_t idx)
{
	struct image *im = &w->images[idx];
	char *update = progress_due(w) ? update_for(w, w->job.status) : NULL;
	int64_t now = codec_now_ms();
	struct media_blob blob = { w->jpeg[idx], w->jpeg_len[idx] };
	int rc = w->unrec[idx] == REC_COMPLETED ?
	    store_image_completed(&w->claim, im->item_id,
	    w->cfg->media_in_db ? NULL : im->path, im->url,
	    w->rec_bytes[idx], w->rec_api_ms[idx], &blob, now, update) :
	    store_image_failed(&w->claim, im->item_id, im->error, w->rec_api_ms[idx], now,
	    update);
	free(update);
	return written(w, rc);
}

/* The store refused a write: nothing new is paid for until it takes one (generate_all). */
static void
store_away(struct worker *w, const char *what, int64_t now)
{
	if (w->store_away_since == 0) {
		log_warn("case %s: the database did not take %s: no paid call until it does;"
		    " what is in flight is kept", w->job.case_id, what);
		w->store_away_since = now;
	}
	w->store_retry_at = now + STORE_RETRY_MS;
}

/* Back: the lease is renewed at once, so that no reaper takes a job that lives. */
static void
store_back(struct worker *w, int64_t now)
{
	if (w->store_away_since == 0)
		return;
	log_info("case %s: the database answers again, after %lld ms", w->job.case_id,
	    (long long)(now - w->store_away_since));
	w->store_away_since = 0;
	w->last_heartbeat = 0;
}

/* In the database now: the picture kept for it goes, and with it the spool file. */
static void
recorded(struct worker *w, size_t i)
{
	w->unrec[i] = REC_NONE;
	w->n_unrec--;
	if (w->jpeg[i] != NULL && w->images[i].path != NULL && unlink(w->images[i].path) != 0 &&
	    errno != ENOENT)
		log_warn("case %s: image %s: cannot remove %s: %s", w->job.case_id,
		    w->images[i].item_id, w->images[i].path, strerror(errno));
	free(w->jpeg[i]);
	w->jpeg[i] = NULL;
	w->jpeg_len[i] = 0;
}

/*
 * Writes what the store has yet to take, until it refuses one: the images
 * paid for are kept (on disk, and here), and no new request starts while
 * any waits (generate_all). Tried again every STORE_RETRY_MS.
 */
static void
flush_records(struct worker *w)
{
	int64_t now = codec_now_ms();
	for (size_t i = 0; w->n_unrec > 0 && i < w->n; i++) {
		if (w->unrec[i] == REC_NONE)
			continue;
		if (write_image(w, i) != 0) {
			store_away(w, "an image's record", now);
			return;
		}
		recorded(w, i);
	}
	store_back(w, now);
}

static void
record(struct worker *w, size_t idx, enum unrecorded kind, long api_ms)
{
	w->n_unrec += w->unrec[idx] == REC_NONE;
	w->unrec[idx] = kind;
	w->rec_api_ms[idx] = api_ms;
	w->progress_dirty = 1;
	if (w->store_away_since == 0 || codec_now_ms() >= w->store_retry_at)
		flush_records(w);
}

/*
 * The store wrote the update with the change it reports (store_outbox.c);
 * here it is only sent, the newest first.
 */
static void
progress(struct worker *w, const char *event, int64_t now)
{
	(void)event;
	/* Marked sent even with no webhook: pump would otherwise wake at once, forever. */
	w->last_progress = now;
	w->progress_dirty = 0;
	notify_tick(w->notify, now);
}

/* api_ms: the image API's answer time for this attempt, -1 if it was not asked. */
static void
image_failed(struct worker *w, size_t idx, const char *error, long api_ms)
{
	struct image *im = &w->images[idx];
	log_warn("case %s: image %s failed: %s", w->job.case_id, im->item_id, error);
	snprintf(im->status, sizeof(im->status), "failed");
	free(im->error);
	im->error = strdup(error);
	w->job.failed++;
	record(w, idx, REC_FAILED, api_ms);
}

/* Errors that the next image would meet too: paying for it would be waste. */
static int
disk_is_broken(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EROFS || err == ENOTDIR ||
	    err == EACCES || err == EPERM;
}

/*
 * The row follows the file: a crash between the two leaves a file to
 * adopt. jpeg (the worker's from here on, NULL when it has none) becomes
 * the image's data URL, and with media_store = database the picture the
 * record carries; the file is then a spool, removed once recorded.
 */
static int
record_image(struct worker *w, size_t idx, const struct media_path *mp, long bytes,
    long api_ms, unsigned char *jpeg, size_t len)
{
	struct image *im = &w->images[idx];
	char *path = strdup(mp->path), *url = strdup(mp->url);
	if (path == NULL || url == NULL) {
		free(path);
		free(url);
		free(jpeg);
		return -1;
	}
	free(im->path);
	free(im->url);
	free(im->data);
	im->path = path;
	im->url = url;
	im->data = jpeg != NULL && w->cfg->image_urls == URLS_DATA ?
	    jobjson_jpeg_url(jpeg, len) : NULL;
	snprintf(im->status, sizeof(im->status), "completed");
	w->job.completed++;
	w->rec_bytes[idx] = bytes;
	if (w->cfg->media_in_db) {
		free(w->jpeg[idx]);
		w->jpeg[idx] = jpeg;
		w->jpeg_len[idx] = len;
	} else {
		free(jpeg);
	}
	record(w, idx, REC_COMPLETED, api_ms);
	return 0;
}

/* The provider's bytes (owned from here on) go to the compressor's threads. */
static void
image_ready(struct worker *w, size_t idx, unsigned char *bytes, size_t len, long api_ms)
{
	struct image *im = &w->images[idx];
	struct compress_task *t = calloc(1, sizeof(*t));
	if (t == NULL || media_path(w->cfg, w->job.case_id, im->item_id, &t->mp) != 0) {
		free(bytes);
		image_failed(w, idx, t == NULL ? "out of memory" : "media path too long", api_ms);
		free(t);
		return;
	}
	t->idx = idx;
	t->api_ms = api_ms;
	t->in = bytes;
	t->in_len = len;
	compressor_submit(w->compressor, t);
	w->compressing++;
}

/* A picture back from the compressor: on disk, or failed with the reason. */
static void
image_saved(struct worker *w, struct compress_task *t)
{
	struct image *im = &w->images[t->idx];
	w->compressing--;
	if (t->rc != 0) {
		if (t->err_no != 0 && disk_is_broken(t->err_no)) {
			snprintf(w->disk_error, sizeof(w->disk_error), "%s", t->err);
			w->disk_errno = t->err_no;
		}
		image_failed(w, t->idx, t->err, t->api_ms);
		return;
	}
	unsigned char *jpeg = t->out;
	t->out = NULL;
	if (record_image(w, t->idx, &t->mp, (long)t->out_len, t->api_ms, jpeg, t->out_len) != 0) {
		image_failed(w, t->idx, "out of memory", t->api_ms);
		return;
	}
	if ((long)t->out_len > w->largest)
		w->largest = (long)t->out_len;
	log_debug("case %s: image %s: wrote %s", w->job.case_id, im->item_id, t->mp.path);
	log_info("case %s: image %s done (%zu bytes)", w->job.case_id, im->item_id, t->out_len);
}

static void
collect(struct worker *w)
{
	struct compress_task *t;
	while ((t = compressor_take(w->compressor)) != NULL) {
		image_saved(w, t);
		free(t->out);
		free(t);
	}
}

static void
release(struct worker *w, struct slot *s)
{
	if (s->call.easy != NULL)
		curl_multi_remove_handle(w->multi, s->call.easy);
	provider_free(&s->call);
	throttle_release(w->throttle[w->stages[s->stage].pos], s->host_slot);
	s->host_slot = -1;
	s->busy = 0;
	w->inflight--;
}

static int
start_request(struct worker *w, struct slot *s, const char *prompt)
{
	if (provider_start(&s->call, s->prov, w->cfg, w->stages[s->stage].model, prompt) != 0)
		return -1;
	curl_easy_setopt(s->call.easy, CURLOPT_PRIVATE, s);
	return curl_multi_add_handle(w->multi, s->call.easy) == CURLM_OK ? 0 : -1;
}

static void
start_one(struct worker *w, struct slot *s, size_t idx, int host_slot, int64_t now)
{
	struct image *im = &w->images[idx];
	const struct provider_stage *st = &w->stages[w->stage[idx]];
	/*
	 * The start is recorded before the paid call: with the database away
	 * none is made (the image waits), and a worker fenced out stops here.
	 */
	if (written(w, store_image_started(&w->claim, im->item_id, st->p->name, st->model,
	    now)) != 0) {
		throttle_release(w->throttle[st->pos], host_slot);
		w->retry_at[idx] = now + STORE_RETRY_MS;
		w->n_waiting++;
		store_away(w, "an image's start", now);
		return;
	}
	store_back(w, now);
	memset(s, 0, sizeof(*s));
	s->busy = 1;
	s->idx = idx;
	s->stage = w->stage[idx];
	s->prov = st->p;
	s->host_slot = host_slot;
	s->started = now;
	w->inflight++;
	snprintf(im->status, sizeof(im->status), "generating");
	im->attempts++;
	w->tries[idx]++;
	free(im->provider);
	free(im->model);
	im->provider = strdup(s->prov->name);
	im->model = strdup(st->model);
	char *prompt = prompt_for(w, im);
	int rc = prompt == NULL ? -1 : 0;
	if (rc == 0 && s->prov->render != NULL)
		s->due = now + w->cfg->local_delay;
	else if (rc == 0)
		rc = start_request(w, s, prompt);
	free(prompt);
	if (rc != 0) {
		release(w, s);
		image_failed(w, idx, "cannot start the request", -1);
	}
}

static int
has_ready(const struct worker *w, int64_t now)
{
	for (size_t i = 0; w->n_waiting > 0 && i < w->n; i++)
		if (w->retry_at[i] != 0 && w->retry_at[i] <= now)
			return 1;
	return w->next < w->n_todo;
}

/* The next image to start, not yet taken: a retry whose backoff is over, else a new one. */
static int
peek_image(const struct worker *w, int64_t now, size_t *idx)
{
	for (size_t i = 0; w->n_waiting > 0 && i < w->n; i++) {
		if (w->retry_at[i] != 0 && w->retry_at[i] <= now) {
			*idx = i;
			return 1;
		}
	}
	if (w->next < w->n_todo) {
		*idx = w->todo[w->next];
		return 1;
	}
	return 0;
}

static void
take_image(struct worker *w, size_t idx)
{
	if (w->retry_at[idx] != 0) {
		w->retry_at[idx] = 0;
		w->n_waiting--;
	} else {
		w->next++;
	}
}

/* "gemini/gemini-nano-banana-2.1: " when there is more than one stage to tell apart. */
static void
stage_label(const struct worker *w, int stage, char *buf, size_t len)
{
	if (w->n_stages > 1)
		snprintf(buf, len, "%s/%s: ", w->stages[stage].p->name, w->stages[stage].model);
	else
		*buf = '\0';
}

/*
 * An image keeps every stage's reason, in order: each it failed on, and
 * each it passed by because the stage was down for the job. One reason
 * stands alone; once there are two, each says whose it is.
 */
static void
add_why(struct worker *w, size_t idx, int stage, const char *reason)
{
	char label[300], first[300], *joined = NULL;
	const char *had = w->why[idx];
	if (had == NULL) {
		char cut[304];
		provider_text(cut, sizeof(cut), reason, 300);
		w->why[idx] = strdup(cut);
		w->why_from[idx] = stage;
		return;
	}
	stage_label(w, stage, label, sizeof(label));
	*first = '\0';
	if (w->why_from[idx] >= 0)
		stage_label(w, w->why_from[idx], first, sizeof(first));
	w->why_from[idx] = -1;
	char cut[304];
	provider_text(cut, sizeof(cut), reason, 300);
	if (asprintf(&joined, "%s%s; %s%s", first, had, label, cut) < 0)
		return;
	if (strlen(joined) > 4000)	/* 24 stages at most; the status JSON stays small */
		strcpy(joined + 3996, "...");
	free(w->why[idx]);
	w->why[idx] = joined;
}

/*
 * The image's stage: its own, or the next one still up for this job: a
 * retired model gives way to its provider's next, a provider whose key or
 * account failed to the next provider. With none left it fails, with every
 * stage's reason, and no request is paid for.
 */
static const struct provider *
settle(struct worker *w, size_t idx)
{
	while (w->stage[idx] < w->n_stages && w->down[w->stage[idx]] != NULL) {
		int k = w->stage[idx];
		/* A provider's key or account: one reason for all its models. */
		if (k == 0 || w->stages[k - 1].p != w->stages[k].p || w->down[k - 1] == NULL ||
		    strcmp(w->down[k - 1], w->down[k]) != 0)
			add_why(w, idx, k, w->down[k]);
		w->stage[idx]++;
		w->tries[idx] = 0;
	}
	if (w->stage[idx] < w->n_stages)
		return w->stages[w->stage[idx]].p;
	take_image(w, idx);
	image_failed(w, idx, w->why[idx] ? w->why[idx] : "no provider", -1);
	return NULL;
}

static int
next_image(struct worker *w, int64_t now, size_t *idx, const struct provider **p)
{
	while (peek_image(w, now, idx))
		if ((*p = settle(w, *idx)) != NULL)
			return 1;
	return 0;
}

/*
 * Before each paid call: room on media_dir's filesystem for an image's
 * worth more than the pictures outstanding will take, each an image's
 * worth too: the largest JPEG this worker wrote, or image_size^2 * 3/8
 * bytes if larger (a 512-pixel photograph at quality 80 is 30 to 90 KB).
 * Short of room for those outstanding, the call waits for them to land;
 * short of room for one, the job's paid calls stop as on a full disk,
 * before one is paid for in vain.
 */
static int
room_for_one(struct worker *w)
{
	long worth = w->cfg->image_size * w->cfg->image_size * 3 / 8;
	long outstanding = w->inflight + w->compressing;
	if (w->largest > worth)
		worth = w->largest;
	if (w->disk_error[0] != '\0')
		return 0;
	if (media_room(w->cfg, w->job.case_id, (outstanding + 1) * worth, w->disk_error,
	    sizeof(w->disk_error)) == 0)
		return 1;
	if (outstanding > 0 && media_room(w->cfg, w->job.case_id, worth, w->disk_error,
	    sizeof(w->disk_error)) == 0) {
		w->disk_error[0] = '\0';	/* room for one: after those outstanding */
		return 0;
	}
	w->disk_errno = ENOSPC;
	return 0;
}

/*
 * Each request needs a place in the job's window and, first, one under the
 * host's limits. While pictures wait for a compressor thread, none is
 * asked for: a queue would only grow, hold memory, and be paid for in vain
 * should the disk fill. So at most concurrency + threads are outstanding.
 */
static void
fill_window(struct worker *w, int64_t now)
{
	size_t idx = 0;
	const struct provider *p;
	for (long i = 0; i < w->cfg->concurrency && has_ready(w, now) &&
	    w->compressing <= w->compress_threads && room_for_one(w); i++) {
		if (w->slots[i].busy)
			continue;
		if (!next_image(w, now, &idx, &p))
			return;
		int host = -1, k = w->stages[w->stage[idx]].pos;
		if (w->throttle[k] != NULL && (now < w->throttle_retry_at[k] ||
		    (host = throttle_acquire(w->throttle[k], w->job.case_id, now,
		    &w->throttle_retry_at[k])) < 0))
			return;
		take_image(w, idx);
		start_one(w, &w->slots[i], idx, host, now);
		if (w->store_away_since != 0)
			return;		/* the start was not recorded: no other either */
	}
}

/* Exponential backoff with jitter, so that workers failed together do not retry together. */
static int64_t
backoff_ms(const struct config *cfg, int attempts)
{
	int64_t d = cfg->retry_base;
	for (int i = 1; i < attempts && d < cfg->retry_cap; i++)
		d *= 2;
	if (d > cfg->retry_cap)
		d = cfg->retry_cap;
	return d / 2 + (d > 1 ? arc4random_uniform((uint32_t)(d / 2 + 1)) : 0);
}

/* The image waits until at, pending, with err as its last error. */
static void
requeue(struct worker *w, size_t idx, int64_t at, const char *err)
{
	struct image *im = &w->images[idx];
	snprintf(im->status, sizeof(im->status), "pending");
	free(im->error);
	im->error = strdup(err);
	w->retry_at[idx] = at;
	w->n_waiting++;
	/* Not kept if the database is away: the next worker counts it interrupted. */
	if (written(w, store_image_retry(&w->claim, im->item_id, err)) != 0)
		store_away(w, "an image's retry", codec_now_ms());
}

/* Returns 1 when the image waits for another attempt instead of failing now. */
static int
schedule_retry(struct worker *w, size_t idx, long retry_after, const char *err)
{
	struct image *im = &w->images[idx];
	int64_t now = codec_now_ms(), delay = backoff_ms(w->cfg, w->tries[idx]);
	if (retry_after > delay)
		delay = retry_after;
	if (w->tries[idx] >= w->cfg->retry_attempts || now + delay >= w->deadline)
		return 0;
	log_warn("case %s: image %s attempt %d failed: %s; retrying in %" PRId64 " ms",
	    w->job.case_id, im->item_id, im->attempts, err, delay);
	requeue(w, idx, now + delay, err);
	return 1;
}

/* No more of this job's images go to that stage; 1 when it was up until now. */
static int
set_down(struct worker *w, int stage, const char *why)
{
	if (w->down[stage] != NULL)
		return 0;
	w->down[stage] = strdup(why);
	return 1;
}

/* A model is down for the job. Logged once, with the setting to fix. */
static void
mark_down(struct worker *w, int stage, const char *why)
{
	const struct provider_stage *st = &w->stages[stage];
	if (set_down(w, stage, why))
		log_error("case %s: %s model %s: %s; no more requests to it for this job",
		    w->job.case_id, st->p->name, st->model, why);
}

/* The key, billing, region or quota: every model of that provider is down for the job. */
static void
provider_down(struct worker *w, int stage, const char *why)
{
	const struct provider *p = w->stages[stage].p;
	int any = 0;
	for (int i = 0; i < w->n_stages; i++)
		if (w->stages[i].p == p)
			any |= set_down(w, i, why);
	if (any)
		log_error("case %s: %s: %s; no more requests to %s for this job", w->job.case_id,
		    p->name, why, p->name);
}

/*
 * The provider said the model is gone: marked in the store, so that every
 * later job, in every process, passes it by without a call.
 */
static void
retire(struct worker *w, int stage, const char *kind, const char *why)
{
	const struct provider_stage *st = &w->stages[stage];
	if (store_model_retire(st->p->name, st->model, kind, why, codec_now_ms()) < 0)
		log_error("case %s: %s model %s: cannot record that it is retired",
		    w->job.case_id, st->p->name, st->model);
	mark_down(w, stage, why);
}

/*
 * Where an image goes from its stage: a retired model gives way to its
 * provider's next model; any other failure (an outage, a refusal, a bad
 * key, quota spent) to the next provider: the models of a list are there
 * to outlive a retirement, not to pay twice for one picture.
 */
static int
next_stage(const struct worker *w, int stage, int same_provider)
{
	int next = stage + 1;
	while (!same_provider && next < w->n_stages && w->stages[next].pos ==
	    w->stages[stage].pos)
		next++;
	return next;
}

/*
 * Failed on its stage for a reason the next may not share: the next tries
 * it at once. With none next, the image fails with every stage's reason.
 */
static void
fail_over(struct worker *w, size_t idx, int stage, int same_provider, const char *err,
    long api_ms)
{
	int next = next_stage(w, stage, same_provider);
	add_why(w, idx, stage, err);
	if (next >= w->n_stages) {
		image_failed(w, idx, w->why[idx], api_ms);
		return;
	}
	log_warn("case %s: image %s: %s/%s: %s; trying %s/%s", w->job.case_id,
	    w->images[idx].item_id, w->stages[stage].p->name, w->stages[stage].model, err,
	    w->stages[next].p->name, w->stages[next].model);
	w->stage[idx] = next;
	w->tries[idx] = 0;
	requeue(w, idx, codec_now_ms(), w->why[idx]);
}

/*
 * What an answer announced of its model: noted when it changes, and a
 * model whose stage is RETIRED is passed by from now on.
 */
static void
announced(struct worker *w, int stage, const struct provider_answer *a)
{
	struct model_row *k = &w->known[stage];
	const struct provider_stage *st = &w->stages[stage];
	if ((*a->stage != '\0' || a->retires_at != 0) &&
	    (strcmp(k->stage, a->stage) != 0 || k->retires_at != a->retires_at)) {
		snprintf(k->stage, sizeof(k->stage), "%s", a->stage);
		k->retires_at = a->retires_at;
		if (store_model_note(st->p->name, st->model, a->stage, a->retires_at,
		    codec_now_ms()) != 0)
			log_error("case %s: %s model %s: cannot record its announced retirement",
			    w->job.case_id, st->p->name, st->model);
		else
			log_warn("case %s: %s model %s is %s%s", w->job.case_id, st->p->name,
			    st->model, *a->stage ? a->stage : "announced", a->retires_at ?
			    ", retiring as announced (imagegen check has the date)" : "");
	}
	if (strcmp(a->stage, "RETIRED") == 0)
		retire(w, stage, "retired", "the provider answered modelStage RETIRED");
}

/* A quota wait past the job's deadline cures nothing: the provider is spent for this job. */
static int
quota_spent(const struct worker *w, const struct provider_answer *a)
{
	return a->verdict == PV_RETRY && a->quota &&
	    codec_now_ms() + a->retry_after_ms >= w->deadline;
}

/* What the worker does with a provider's verdict on one attempt. */
static void
outcome(struct worker *w, size_t idx, int stage, struct provider_answer *a, long api_ms)
{
	announced(w, stage, a);
	if (quota_spent(w, a)) {
		char why[600];
		snprintf(why, sizeof(why), "%.400s (the quota's wait, %ld s, is past the job's "
		    "deadline: check the account's quota)", a->err, a->retry_after_ms / 1000);
		provider_down(w, stage, why);
		fail_over(w, idx, stage, 0, why, api_ms);
		return;
	}
	switch (a->verdict) {
	case PV_OK:
		/* Not kept if the database is away: the cost's count misses it. */
		if ((a->prompt_tokens >= 0 || a->output_tokens >= 0) &&
		    written(w, store_image_usage(&w->claim, w->images[idx].item_id,
		    a->prompt_tokens, a->output_tokens)) != 0)
			store_away(w, "an image's usage", codec_now_ms());
		image_ready(w, idx, a->img, a->len, api_ms);
		a->img = NULL;
		return;
	case PV_RETRY:
		if (!schedule_retry(w, idx, a->retry_after_ms, a->err))
			fail_over(w, idx, stage, 0, a->err, api_ms);
		break;
	case PV_GONE:
		retire(w, stage, a->makes_none ? "no-images" : "retired", a->err);
		fail_over(w, idx, stage, 1, a->err, api_ms);
		break;
	case PV_ACCOUNT:
		provider_down(w, stage, a->err);
		fail_over(w, idx, stage, 0, a->err, api_ms);
		break;
	case PV_REFUSED:
		if (!w->cfg->failover_on_refusal) {
			image_failed(w, idx, a->err, api_ms);
			break;
		}
		/* fall through */
	case PV_FAILED:
		fail_over(w, idx, stage, 0, a->err, api_ms);
		break;
	}
	free(a->img);
}

static void
request_done(struct worker *w, struct slot *s, CURLcode rc)
{
	struct provider_answer a;
	long api_ms = (long)(codec_now_ms() - s->started);
	size_t idx = s->idx;
	int stage = s->stage;
	provider_finish(&s->call, s->prov, w->cfg, w->stages[stage].model, rc, &a);
	log_debug("case %s: image %s: the image API (%s) answered in %ld ms: %s", w->job.case_id,
	    w->images[idx].item_id, s->prov->name, api_ms,
	    a.verdict == PV_OK ? "a picture" : a.err);
	release(w, s);
	outcome(w, idx, stage, &a, api_ms);
}

static void
local_done(struct worker *w, struct slot *s)
{
	struct provider_answer a;
	size_t idx = s->idx;
	int stage = s->stage;
	const struct provider *p = s->prov;
	char *prompt = prompt_for(w, &w->images[idx]);
	provider_answer_init(&a);
	release(w, s);
	if (prompt != NULL)
		p->render(w->cfg, prompt, &a);
	else
		provider_say(&a, PV_FAILED, "out of memory");
	free(prompt);
	outcome(w, idx, stage, &a, -1);
}

static void
reap_transfers(struct worker *w, int64_t now)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		if (notify_owns(w->notify, m->easy_handle)) {
			notify_done(w->notify, m->data.result, now);
			continue;
		}
		struct slot *s = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		if (s != NULL)
			request_done(w, s, m->data.result);
	}
	for (long i = 0; i < w->cfg->concurrency; i++) {
		struct slot *s = &w->slots[i];
		if (s->busy && s->prov->render != NULL && s->due <= codec_now_ms())
			local_done(w, s);
	}
}

/*
 * Models another worker found retired since this one started are passed
 * by here too, so that none is asked twice after the provider said so.
 */
static void
refresh_retired(struct worker *w)
{
	for (int i = 0; i < w->n_stages; i++) {
		const struct provider_stage *st = &w->stages[i];
		struct model_row *k = &w->known[i];
		char why[700];
		if (w->down[i] != NULL || st->p->render != NULL)
			continue;
		if (store_model_get(st->p->name, st->model, k) != 0) {
			log_error("case %s: %s model %s: cannot read whether it is retired",
			    w->job.case_id, st->p->name, st->model);
			continue;
		}
		if (k->retired_at == 0)
			continue;
		snprintf(why, sizeof(why), "%s %s, marked %s by the store: %.400s",
		    st->p->model_setting, st->model, k->retired_kind, k->retired_reason);
		mark_down(w, i, why);
	}
}

/*
 * The sign of life `imagegen reap` looks for. A worker that finds the job
 * taken from it (it was thought dead) stops at once: two must never run.
 */
static void
heartbeat(struct worker *w, int64_t now)
{
	if (w->finished || now - w->last_heartbeat < w->cfg->heartbeat_interval * 1000)
		return;
	w->last_heartbeat = now;
	if (written(w, store_heartbeat(&w->claim, now, w->cfg->stale_after * 1000)) != 0) {
		/* Tried again soon: a lease left to run out would give the job away. */
		store_away(w, "the heartbeat", now);
		w->last_heartbeat = now - w->cfg->heartbeat_interval * 1000 + STORE_RETRY_MS;
		return;
	}
	store_back(w, now);
	refresh_retired(w);
}

/* Waits for network activity, the next local image, a webhook retry or the deadline. */
static void
pump(struct worker *w, int64_t wake_at)
{
	int running;
	int64_t now = codec_now_ms(), due = notify_next_due(w->notify);
	if (due >= 0 && due < wake_at)
		wake_at = due;
	for (long i = 0; i < w->cfg->concurrency; i++)
		if (w->slots[i].busy && w->slots[i].prov->render != NULL &&
		    w->slots[i].due < wake_at)
			wake_at = w->slots[i].due;
	for (size_t i = 0; w->n_waiting > 0 && i < w->n; i++)
		if (w->retry_at[i] != 0 && w->retry_at[i] < wake_at)
			wake_at = w->retry_at[i];
	for (int k = 0; k < MAX_PROVIDERS; k++)
		if (w->throttle_retry_at[k] > now && w->throttle_retry_at[k] < wake_at &&
		    has_ready(w, now))
			wake_at = w->throttle_retry_at[k];
	if (w->progress_dirty && w->last_progress + w->cfg->webhook_interval < wake_at)
		wake_at = w->last_progress + w->cfg->webhook_interval;
	if (w->n_unrec > 0 && w->store_retry_at < wake_at)
		wake_at = w->store_retry_at;
	long wait = wake_at - now;
	wait = wait < 0 ? 0 : wait > POLL_MAX_MS ? POLL_MAX_MS : wait;
	struct curl_waitfd done = { .fd = compressor_fd(w->compressor), .events = CURL_WAIT_POLLIN };
	if (curl_multi_poll(w->multi, &done, 1, (int)wait, NULL) != CURLM_OK ||
	    curl_multi_perform(w->multi, &running) != CURLM_OK)
		log_error("case %s: libcurl multi interface failed", w->job.case_id);
	now = codec_now_ms();
	collect(w);
	reap_transfers(w, now);
	if (w->n_unrec > 0 && now >= w->store_retry_at)
		flush_records(w);
	heartbeat(w, now);
	notify_tick(w->notify, now);
	if (w->progress_dirty && now - w->last_progress >= w->cfg->webhook_interval &&
	    unfinished(w))
		progress(w, "progress", now);
}

/*
 * The job's time is up, or it was cancelled: requests in flight are
 * aborted, the rest never start, and each such image fails with the reason.
 */
static void
abandon_all(struct worker *w, const char *reason)
{
	for (long i = 0; i < w->cfg->concurrency; i++) {
		struct slot *s = &w->slots[i];
		if (s->busy) {
			size_t idx = s->idx;
			release(w, s);
			image_failed(w, idx, reason, -1);
		}
	}
	for (size_t i = 0; w->n_waiting > 0 && i < w->n; i++) {
		if (w->retry_at[i] != 0) {
			w->retry_at[i] = 0;
			w->n_waiting--;
			image_failed(w, i, reason, -1);
		}
	}
	while (w->next < w->n_todo)
		image_failed(w, w->todo[w->next++], reason, -1);
}

static int
cancel_requested(struct worker *w, int64_t now)
{
	if (now - w->last_cancel_check < POLL_MAX_MS)
		return 0;
	w->last_cancel_check = now;
	return store_cancel_requested(w->job.case_id) == 1;
}

/* Why the job must stop starting requests, or NULL; each reason is logged once. */
static const char *
stop_reason(struct worker *w, int64_t now)
{
	if (now >= w->deadline) {
		log_warn("case %s: job deadline of %ld s exceeded", w->job.case_id,
		    w->cfg->job_deadline);
		return "deadline exceeded";
	}
	if (cancel_requested(w, now)) {
		log_info("case %s: cancelled by request", w->job.case_id);
		return "cancelled";
	}
	if (w->disk_error[0] != '\0') {
		log_error("case %s: the media directory takes no files (%s); stopping",
		    w->job.case_id, w->disk_error);
		/* The images never written must not name the file that was. */
		if (w->disk_errno != 0)
			snprintf(w->disk_error, sizeof(w->disk_error), "not written: the media"
			    " directory takes no files (%s)", strerror(w->disk_errno));
		return w->disk_error;
	}
	return NULL;
}

/*
 * The database away past the job's deadline and a grace: the worker ends,
 * and the images it could not record stay on disk, for the worker that
 * resumes the job to adopt (plan).
 */
static int
store_gone_too_long(const struct worker *w, int64_t now)
{
	if (w->store_away_since == 0 || now < w->deadline + STORE_GRACE_MS)
		return 0;
	log_error("case %s: the database has been away for %lld s; stopping with %zu images"
	    " not recorded: the worker that resumes the job records those on disk",
	    w->job.case_id, (long long)((now - w->store_away_since) / 1000), w->n_unrec);
	return 1;
}

/*
 * Pictures already with the compressor are finished even when the job
 * stops. No request starts while the store has records to take.
 */
static int
generate_all(struct worker *w)
{
	while (unfinished(w)) {
		const char *reason = w->stopping ? NULL : stop_reason(w, codec_now_ms());
		if (reason != NULL) {
			w->stopping = 1;
			abandon_all(w, reason);
			continue;
		}
		if (store_gone_too_long(w, codec_now_ms()))
			return -1;
		int64_t now = codec_now_ms();
		if (!w->stopping && w->n_unrec == 0 &&
		    (w->store_away_since == 0 || now >= w->store_retry_at))
			fill_window(w, now);
		pump(w, w->deadline);
	}
	return 0;
}

/* Its final status, as the worker counted it: tried until the database takes it. */
static int
record_final(struct worker *w)
{
	const char *status = w->job.completed == w->job.total ? "completed" :
	    w->job.completed == 0 ? "failed" : "partial";
	char *update = update_for(w, status);
	int rc;
	while ((rc = written(w, store_finish(&w->claim, status, codec_now_ms(), update))) != 0) {
		int64_t now = codec_now_ms();
		store_away(w, "the final status", now);
		if (store_gone_too_long(w, now))
			break;
		pump(w, now + STORE_RETRY_MS);
	}
	free(update);
	if (rc == 0)
		snprintf(w->job.status, sizeof(w->job.status), "%s", status);
	return rc;
}

static void
finish(struct worker *w)
{
	int64_t now = codec_now_ms();
	if (record_final(w) != 0)
		return;
	w->finished = 1;
	struct rusage ru;
	int ok = getrusage(RUSAGE_SELF, &ru) == 0;
	long rss = ok ? ru.ru_maxrss : -1;
	long cpu = ok ? (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000 : -1;
	log_info("case %s: %s, %d of %d images, %d failed; worker peak RSS %ld KiB,"
	    " CPU %ld ms (compression %ld ms)", w->job.case_id, w->job.status,
	    w->job.completed, w->job.total, w->job.failed, rss, cpu,
	    compressor_cpu_ms(w->compressor));
	progress(w, "final", now);
	/* Waits for what is delivered soon; a long backoff is left to `imagegen reap`. */
	int64_t stop = now + DRAIN_MAX_MS, due;
	while (!notify_idle(w->notify) && (now = codec_now_ms()) < stop) {
		if ((due = notify_next_due(w->notify)) >= 0 && due - now > DRAIN_WAIT_MS)
			break;
		pump(w, stop);
	}
}

/*
 * An image not yet recorded may be on disk already, written by a worker
 * that died, or that stopped because the database took no write, before
 * it recorded it (generating, or still pending): it is recorded now, not
 * paid for twice.
 */
static int
adopt(struct worker *w, size_t idx)
{
	struct image *im = &w->images[idx];
	struct media_path mp;
	long size;
	unsigned char *jpeg = NULL;
	size_t len = 0;
	if (media_path(w->cfg, w->job.case_id, im->item_id, &mp) != 0 ||
	    (size = media_adoptable(&mp, w->job.created_at)) < 0)
		return 0;
	if (w->cfg->media_in_db && media_read(&mp, &jpeg, &len) != 0) {
		log_error("case %s: image %s: cannot read %s", w->job.case_id, im->item_id, mp.path);
		return 0;
	}
	if (record_image(w, idx, &mp, size, -1, jpeg, len) != 0)
		return 0;
	log_info("case %s: image %s found on disk, recorded", w->job.case_id, im->item_id);
	return 1;
}

/* Its worker died with the request out: no answer, so no attempt spent. */
static void
interrupted(struct worker *w, struct image *im)
{
	if (store_image_interrupted(&w->claim, im->item_id) == 1) {
		snprintf(im->status, sizeof(im->status), "pending");
		im->attempts -= im->attempts > 0;
		im->interrupted++;
		log_info("case %s: image %s: attempt interrupted by the worker's death;"
		    " not counted against retry_attempts", w->job.case_id, im->item_id);
	}
}

static int
plan(struct worker *w)
{
	w->todo = calloc(w->n + 1, sizeof(*w->todo));
	w->retry_at = calloc(w->n + 1, sizeof(*w->retry_at));
	w->stage = calloc(w->n + 1, sizeof(*w->stage));
	w->tries = calloc(w->n + 1, sizeof(*w->tries));
	w->why = calloc(w->n + 1, sizeof(*w->why));
	w->why_from = calloc(w->n + 1, sizeof(*w->why_from));
	w->slots = calloc((size_t)w->cfg->concurrency, sizeof(*w->slots));
	w->unrec = calloc(w->n + 1, sizeof(*w->unrec));
	w->rec_bytes = calloc(w->n + 1, sizeof(*w->rec_bytes));
	w->rec_api_ms = calloc(w->n + 1, sizeof(*w->rec_api_ms));
	w->jpeg = calloc(w->n + 1, sizeof(*w->jpeg));
	w->jpeg_len = calloc(w->n + 1, sizeof(*w->jpeg_len));
	if (w->todo == NULL || w->retry_at == NULL || w->stage == NULL || w->tries == NULL ||
	    w->why == NULL || w->why_from == NULL || w->slots == NULL || w->unrec == NULL ||
	    w->rec_bytes == NULL || w->rec_api_ms == NULL || w->jpeg == NULL ||
	    w->jpeg_len == NULL)
		return -1;
	for (size_t i = 0; i < w->n; i++) {
		const char *st = w->images[i].status;
		int open = strcmp(st, "pending") == 0 || strcmp(st, "generating") == 0;
		if (open && adopt(w, i))
			continue;
		if (strcmp(st, "generating") == 0)
			interrupted(w, &w->images[i]);
		if (open)
			w->todo[w->n_todo++] = i;
	}
	return 0;
}

/*
 * Whether the job's holder lives: on this host, its worker process (pids
 * mean nothing elsewhere); on another, its lease, which its heartbeats renew.
 */
int
worker_holds(const char *my_host, const char *host_id, long pid, const char *case_id,
    int64_t lease_until, int64_t now)
{
	if (*host_id == '\0' || strcmp(host_id, my_host) == 0)
		return worker_alive(pid, case_id);
	return lease_until > now;
}

/* Whether pid is a live worker of this case: pids are reused, so not merely a live process. */
int
worker_alive(long pid, const char *case_id)
{
	char path[64], cmd[256];
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	FILE *f = pid > 0 ? fopen(path, "re") : NULL;
	if (f == NULL)
		return 0;
	size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[n] = '\0';
	/* argv is NUL-separated: "imagegen", "worker" or "run", "--" (spawn.c), the case id. */
	const char *verb = cmd + strlen(cmd) + 1;
	const char *id = verb < cmd + n ? verb + strlen(verb) + 1 : cmd + n;
	if (id < cmd + n && strcmp(id, "--") == 0)
		id += 3;
	return id < cmd + n && strcmp(id, case_id) == 0 &&
	    (strcmp(verb, "worker") == 0 || strcmp(verb, "run") == 0);
}

/* `imagegen run` may take over a job whose worker is gone, as the reaper would. */
/*
 * The job as the store has it. A worker started as the database server
 * went away (a restart, a failover) waits for it a while, reconnecting
 * each second: the job is not left for a sweep to find.
 */
static int
load(struct worker *w, const char *case_id)
{
	int64_t until = codec_now_ms() + CLAIM_WAIT_MS;
	int found;
	while ((found = store_load(case_id, &w->job, &w->images, &w->n)) < 0 &&
	    store_unreachable() && codec_now_ms() < until) {
		struct timespec second = { STORE_RETRY_MS / 1000, 0 };
		store_busy_reset();
		nanosleep(&second, NULL);
	}
	return found;
}

static int
claim(struct worker *w, const char *case_id, int take_over)
{
	int found = load(w, case_id);
	if (found <= 0) {
		log_error("case %s: %s", case_id, found == 0 ? "no such job" : "cannot load");
		return -1;
	}
	int64_t now = codec_now_ms();
	int dead = !worker_holds(w->cfg->host, w->job.host_id, w->job.worker_pid, case_id,
	    w->job.lease_until, now);
	if (take_over && dead && strcmp(w->job.status, "generating") == 0) {
		struct live_job j = { .epoch = w->job.epoch, .beat_at = w->job.beat_at };
		snprintf(j.case_id, sizeof(j.case_id), "%s", case_id);
		store_release(&j, now);
	}
	snprintf(w->claim.case_id, sizeof(w->claim.case_id), "%s", case_id);
	char *update = update_for(w, "generating");
	int claimed = store_claim(&w->claim, w->cfg->host, (long)getpid(), now,
	    w->cfg->stale_after * 1000, update);
	free(update);
	if (claimed < 0) {
		log_error("case %s: not claimed: the database did not take the claim", case_id);
		return -1;
	}
	if (claimed != 1) {
		log_error("case %s: not claimed: the job is %s%s", case_id, w->job.status,
		    strcmp(w->job.status, "generating") == 0 && !dead ? " by a live worker" : "");
		return -1;
	}
	snprintf(w->job.status, sizeof(w->job.status), "generating");
	w->last_heartbeat = now;
	int removed = media_clean_tmp(w->cfg, case_id);
	if (removed > 0)
		log_info("case %s: removed %d temporary files of a dead worker", case_id, removed);
	if (media_probe(w->cfg, case_id, w->disk_error, sizeof(w->disk_error)) != 0)
		log_error("case %s: %s", case_id, w->disk_error);
	return 0;
}

static int
prepare(struct worker *w)
{
	if (plan(w) != 0 || (w->multi = curl_multi_init()) == NULL ||
	    (w->compressor = compressor_new(w->compress_threads = compressor_threads(
	    w->cfg->concurrency), w->cfg->image_size, w->cfg->image_quality)) == NULL) {
		log_error("case %s: out of memory", w->job.case_id);
		return -1;
	}
	for (int i = 0; i < provider_count(w->cfg); i++) {
		const struct provider *p = provider_at(w->cfg, i);
		if (p->request != NULL && (w->throttle[i] = throttle_open(w->cfg, p->name)) == NULL)
			log_error("case %s: %s: host-wide limits unavailable; only concurrency "
			    "applies", w->job.case_id, p->name);
	}
	w->n_stages = provider_stages(w->cfg, w->stages);
	for (int i = 0; i < w->n_stages; i++) {
		const char *key = provider_key(w->stages[i].p, w->cfg);
		char why[256];
		snprintf(why, sizeof(why), "no key: set %s", w->stages[i].p->key_setting);
		if (key != NULL && *key == '\0')
			provider_down(w, i, why);
	}
	refresh_retired(w);
	if (w->job.webhook_url != NULL && (w->notify = notify_new(w->cfg, w->multi,
	    w->job.case_id)) == NULL)
		log_error("case %s: webhooks disabled: out of memory", w->job.case_id);
	w->deadline = codec_now_ms() + w->cfg->job_deadline * 1000;
	return 0;
}

static void
cleanup(struct worker *w)
{
	for (long i = 0; w->slots != NULL && i < w->cfg->concurrency; i++)
		if (w->slots[i].busy)
			release(w, &w->slots[i]);
	compressor_free(w->compressor);
	notify_free(w->notify);
	for (int i = 0; i < MAX_PROVIDERS; i++)
		throttle_close(w->throttle[i]);
	if (w->multi != NULL)
		curl_multi_cleanup(w->multi);
	free(w->slots);
	free(w->todo);
	free(w->retry_at);
	free(w->stage);
	free(w->tries);
	for (size_t i = 0; w->why != NULL && i < w->n; i++)
		free(w->why[i]);
	free(w->why);
	free(w->why_from);
	free(w->unrec);
	free(w->rec_bytes);
	free(w->rec_api_ms);
	for (size_t i = 0; w->jpeg != NULL && i < w->n; i++)
		free(w->jpeg[i]);
	free(w->jpeg);
	free(w->jpeg_len);
	for (int i = 0; i < MAX_STAGES; i++)
		free(w->down[i]);
	store_free(&w->job, w->images, w->n);
}

int
worker_run(const struct config *cfg, const char *case_id, int take_over)
{
	struct worker w = { .cfg = cfg };
	/*
	 * Answers of 1-2 MB, and the pictures decoded from them, come and go
	 * by the dozen. Served by mmap, each would be new pages, faulted in
	 * and zeroed, then unmapped: a sixth of a case's CPU. From one heap
	 * they are reused instead; freed memory stays resident, which costs
	 * about 10 MB at peak (bench/README.md has both figures).
	 */
	if (mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) != 1 || mallopt(M_ARENA_MAX, 1) != 1)
		log_warn("case %s: mallopt failed; the heap may cost more CPU", case_id);
	if (claim(&w, case_id, take_over) != 0) {
		store_free(&w.job, w.images, w.n);
		return 1;
	}
	log_info("case %s: worker started", case_id);
	if (prepare(&w) != 0) {
		cleanup(&w);
		return 1;
	}
	progress(&w, "start", codec_now_ms());
	int rc = generate_all(&w) == 0 ? 0 : 1;
	if (rc == 0)
		finish(&w);
	rc = rc == 0 && w.finished ? 0 : 1;
	cleanup(&w);
	return rc;
}

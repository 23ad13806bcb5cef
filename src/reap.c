/*
 * reap.c: the reference design's sweep for stale jobs, made real. A job
 * that is pending with no worker for stale_after seconds, or generating
 * with a dead worker or a heartbeat older than stale_after, is put back
 * to pending and given a new worker, which makes only the images not
 * yet done. Webhook deliveries that jobs which have ended left pending are
 * sent again, in order within each case, until their attempts run out.
 * `imagegen reap` runs it from cron; responders start it too, at most once
 * per reap_interval across all of them.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "codec.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "reap.h"
#include "spawn.h"
#include "store.h"
#include "worker.h"

#define MAX_PER_RUN 256

struct orphans {
	const struct config *cfg;
	int64_t now;
	struct live_job jobs[MAX_PER_RUN];
	int n;
};

/* A worker that lives but has not beaten for stale_after seconds is hung: it goes. */
static int
is_orphan(const struct config *cfg, const struct live_job *j, int64_t now)
{
	int64_t stale = now - cfg->stale_after * 1000;
	if (strcmp(j->status, "pending") == 0)
		return j->worker_pid == 0 && j->updated_at < stale;
	if (!worker_alive(j->worker_pid, j->case_id))
		return 1;
	if (j->heartbeat_at >= stale)
		return 0;
	log_warn("case %s: worker %ld silent for %lld s; killing it", j->case_id,
	    j->worker_pid, (long long)(now - j->heartbeat_at) / 1000);
	kill((pid_t)j->worker_pid, SIGKILL);
	return 1;
}

static int
collect(const struct live_job *j, void *arg)
{
	struct orphans *o = arg;
	if (is_orphan(o->cfg, j, o->now))
		o->jobs[o->n++] = *j;
	return o->n == MAX_PER_RUN;
}

/*
 * Within a case, a delivery waits for the ones before it: the first that is
 * not due or fails this time holds the rest back.
 */
static int
redeliver(const struct config *cfg)
{
	struct delivery_row *rows;
	size_t n;
	int sent = 0;
	if (store_pending_deliveries(&rows, &n, MAX_PER_RUN) != 0)
		return -1;
	const char *held = "";
	for (size_t i = 0; i < n; i++) {
		struct delivery_row *r = &rows[i];
		int64_t now = codec_now_ms();
		if (strcmp(r->case_id, held) == 0 || worker_alive(r->worker_pid, r->case_id))
			continue;
		if (r->next_attempt_at > now || !notify_redeliver(cfg, r, now)) {
			held = r->case_id;
			continue;
		}
		sent++;
	}
	store_free_deliveries(rows, n);
	return sent;
}

static int
resume_orphans(const struct config *cfg)
{
	struct orphans *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return -1;
	o->cfg = cfg;
	o->now = codec_now_ms();
	int resumed = store_each_live_job(collect, o) == 0 ? 0 : -1;
	for (int i = 0; resumed >= 0 && i < o->n; i++) {
		const struct live_job *j = &o->jobs[i];
		/* Only the reaper whose release succeeds starts a worker. */
		if (store_release(j->case_id, j->worker_pid, o->now) != 1)
			continue;
		log_warn("case %s: %s job without a live worker%s; resuming", j->case_id,
		    j->status, j->worker_pid ? "" : " ever");
		if (spawn_worker(j->case_id) == 0)
			resumed++;
	}
	free(o);
	return resumed;
}

/* Returns the number of jobs resumed, or -1 when the store cannot be read. */
int
reap_run(const struct config *cfg, int *redelivered)
{
	int resumed = resume_orphans(cfg);
	*redelivered = redeliver(cfg);
	return resumed;
}

/*
 * Cheap enough for every request: a clock check, and once per interval a
 * one-row update and a fork; the sweep itself runs in its own process.
 */
void
reap_maybe(const struct config *cfg)
{
	static int64_t next_check;
	int64_t now = codec_now_ms();
	if (now < next_check)
		return;
	next_check = now + cfg->reap_interval * 1000;
	if (store_maintenance_due("reap", now, cfg->reap_interval * 1000) == 1)
		spawn_reaper();
}

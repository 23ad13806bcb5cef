/*
 * reap.c: the reference design's sweep for stale jobs, made real. A job
 * that is pending with no worker for stale_after seconds, or generating
 * with a dead worker or a heartbeat older than stale_after, is put back
 * to pending and given a new worker, which makes only the images not
 * yet done. Webhook deliveries that jobs which have ended left pending are
 * sent again, in order within each case, until their attempts run out.
 * `imagegen reap` runs it from cron; responders start it too, at most once
 * per reap_interval across all of them. A sweep brings back no more
 * workers than max_inflight, counting those alive: any more would only
 * wait for a place, each a process, after an outage left thousands. The
 * rest are not left for the next sweep only: each worker that ends hands
 * its place to the one that has waited longest, a job generate or retry
 * queued (queue.c) at once, an orphan once it has waited stale_after.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "check.h"
#include "codec.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "reap.h"
#include "spawn.h"
#include "dispatch.h"
#include "store.h"
#include "store_queue.h"
#include "worker.h"

#define MAX_PER_RUN 256

struct orphans {
	const struct config *cfg;
	int64_t now;
	struct live_job jobs[MAX_PER_RUN];
	int n;
	long alive;		/* jobs whose worker lives, or is starting */
	long more;		/* orphans past MAX_PER_RUN, for a later sweep */
	int waited;		/* only jobs silent for stale_after: a hand-over */
};

/*
 * A worker that lives but has not beaten for stale_after seconds is hung:
 * it goes. With waited set, a job whose worker died less than stale_after
 * ago is left for a sweep. A queued job waits for no one.
 */
static int
is_orphan(const struct config *cfg, const struct live_job *j, int64_t now, int waited)
{
	int64_t stale = now - cfg->stale_after * 1000;
	if (strcmp(j->status, "pending") == 0)
		return j->worker_pid == 0 && (j->queued || j->updated_at < stale);
	if (!worker_alive(j->worker_pid, j->case_id))
		return !waited || j->heartbeat_at < stale;
	if (j->heartbeat_at >= stale)
		return 0;
	log_warn("case %s: worker %ld silent for %lld s; killing it", j->case_id,
	    j->worker_pid, (long long)(now - j->heartbeat_at) / 1000);
	kill((pid_t)j->worker_pid, SIGKILL);
	return 1;
}

/*
 * Every live job is looked at, so that all workers alive are counted; a
 * pending job not yet stale counts too: its worker is starting.
 */
static int
collect(const struct live_job *j, void *arg)
{
	struct orphans *o = arg;
	if (!is_orphan(o->cfg, j, o->now, o->waited))
		o->alive++;
	else if (o->n < MAX_PER_RUN)
		o->jobs[o->n++] = *j;
	else
		o->more++;
	return 0;
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

/* Resumes at most limit orphans, and only while max_inflight allows. */
static int
resume_orphans(const struct config *cfg, long limit, int waited)
{
	struct orphans *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return -1;
	o->cfg = cfg;
	o->now = codec_now_ms();
	o->waited = waited;
	int resumed = store_each_live_job(collect, o) == 0 ? 0 : -1;
	long room = cfg->max_inflight - o->alive;
	if (room > limit)
		room = limit;
	if (resumed == 0 && o->n + o->more > room)
		log_info("reap: %ld jobs without a worker, %ld workers alive, max_inflight %ld:"
		    " %ld wait for a place", o->n + o->more, o->alive, cfg->max_inflight,
		    o->n + o->more - (room > 0 ? room : 0));
	for (int i = 0; resumed >= 0 && i < o->n && resumed < room; i++) {
		const struct live_job *j = &o->jobs[i];
		/* Only the reaper whose release, or take, succeeds starts a worker. */
		if ((j->queued ? store_take_queued(j->case_id, o->now)
		    : store_release(j->case_id, j->worker_pid, o->now)) != 1)
			continue;
		if (j->queued)
			log_info("case %s: queued job; starting its worker", j->case_id);
		else
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
	int resumed = resume_orphans(cfg, MAX_PER_RUN, 0);
	*redelivered = redeliver(cfg);
	(void)dispatch_reap(cfg);
	check_daily(cfg);
	return resumed;
}

/*
 * Only a job that has waited stale_after: one whose worker died a moment
 * ago may be moved by a webhook from a worker elsewhere, or by a sweep.
 */
void
reap_hand_over(const struct config *cfg)
{
	(void)resume_orphans(cfg, 1, 1);
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

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
#include <time.h>

#include "check.h"
#include "codec.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "reap.h"
#include "spawn.h"
#include "store.h"
#include "store_outbox.h"
#include "store_queue.h"
#include "worker.h"

#define MAX_PER_RUN 256

#define SILENT_GRACE_MS 3000	/* a silent holder's last chance to be heard from */

struct orphans {
	const struct config *cfg;
	int64_t now;
	struct live_job jobs[MAX_PER_RUN];
	int n;
	int silent;		/* of jobs[], those whose holder is silent, not known dead */
	long alive;		/* jobs whose worker lives, or is starting */
	long here;		/* of those, the workers of this host */
	long more;		/* orphans past MAX_PER_RUN, for a later sweep */
	int waited;		/* only jobs silent for stale_after: a hand-over */
};

enum judgement { J_ALIVE, J_ORPHAN, J_SILENT };

/*
 * A job's holder, as this host can know it: on this host, its worker
 * process, which may be dead (an orphan) or live but silent for
 * stale_after (hung); on another host, only its lease, which its
 * heartbeats renew. With waited set, a job whose worker died less than
 * stale_after ago is left for a sweep. A queued job waits for no one.
 */
static enum judgement
judge(const struct config *cfg, const struct live_job *j, int64_t now, int waited)
{
	int64_t stale = now - cfg->stale_after * 1000;
	int mine = *j->host_id == '\0' || strcmp(j->host_id, cfg->host) == 0;
	if (strcmp(j->status, "pending") == 0)
		return j->worker_pid == 0 && (j->queued || j->updated_at < stale) ? J_ORPHAN :
		    J_ALIVE;
	if (mine && !worker_alive(j->worker_pid, j->case_id))
		return !waited || j->heartbeat_at < stale ? J_ORPHAN : J_ALIVE;
	if (mine)
		return j->heartbeat_at < stale ? J_SILENT : J_ALIVE;
	return j->lease_until < now ? J_SILENT : J_ALIVE;
}

/*
 * Every live job is looked at, so that all workers alive are counted; a
 * pending job not yet stale counts too: its worker is starting. Orphans
 * come first, the silent after them.
 */
static int
collect(const struct live_job *j, void *arg)
{
	struct orphans *o = arg;
	enum judgement v = judge(o->cfg, j, o->now, o->waited);
	if (v == J_ALIVE) {
		o->alive++;
		o->here += strcmp(j->status, "generating") == 0 && strcmp(j->host_id, o->cfg->host) == 0;
	} else if (o->n == MAX_PER_RUN) {
		o->more++;
	} else if (v == J_SILENT) {
		o->jobs[o->n++] = *j;
		o->silent++;
	} else {
		memmove(&o->jobs[o->n - o->silent + 1], &o->jobs[o->n - o->silent],
		    (size_t)o->silent * sizeof(*j));
		o->jobs[o->n++ - o->silent] = *j;
	}
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
	if (store_pending_deliveries(&rows, &n, MAX_PER_RUN, codec_now_ms()) != 0)
		return -1;
	const char *held = "";
	for (size_t i = 0; i < n; i++) {
		struct delivery_row *r = &rows[i];
		int64_t now = codec_now_ms();
		int mine = *r->host_id == '\0' || strcmp(r->host_id, cfg->host) == 0;
		/* A worker of this host still sends its own; a row another host holds is its. */
		if (strcmp(r->case_id, held) == 0 || (mine && worker_alive(r->worker_pid,
		    r->case_id)) || (r->next_attempt_at <= now && store_outbox_lease(r->id,
		    cfg->host, now, notify_lease_ms(cfg)) != 1))
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

/*
 * Takes the job from its holder, if it is still as this reaper saw it:
 * the epoch moves, and a worker of this host that is hung is killed (a
 * worker elsewhere stops at its next write). 1 when this reaper took it.
 */
static int
take(const struct orphans *o, const struct live_job *j, int silent)
{
	if ((j->queued ? store_take_queued(j->case_id, o->now) : store_release(j, o->now)) != 1)
		return 0;
	int mine = *j->host_id == '\0' || strcmp(j->host_id, o->cfg->host) == 0;
	if (j->queued)
		log_info("case %s: queued job; starting its worker", j->case_id);
	else if (silent && mine)
		log_warn("case %s: worker %ld silent for %lld s; killing it", j->case_id,
		    j->worker_pid, (long long)(o->now - j->heartbeat_at) / 1000);
	else if (silent)
		log_warn("case %s: the lease of %s's worker ran out %lld s ago; resuming it here",
		    j->case_id, j->host_id, (long long)(o->now - j->lease_until) / 1000);
	else
		log_warn("case %s: %s job without a live worker%s; resuming", j->case_id,
		    j->status, j->worker_pid ? "" : " ever");
	if (silent && mine)
		kill((pid_t)j->worker_pid, SIGKILL);
	return 1;
}

/*
 * Resumes at most limit orphans, and only while max_inflight allows. A
 * holder that lives but has not been heard from gets a last grace: one
 * that was only cut off from the database (it came back a moment ago)
 * renews its lease within it, and keeps its job and the calls it paid for.
 */
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
	if (cfg->host_max_jobs > 0 && cfg->host_max_jobs - o->here < room)
		room = cfg->host_max_jobs - o->here;
	if (room > limit)
		room = limit;
	if (resumed == 0 && o->n + o->more > room)
		log_info("reap: %ld jobs without a worker, %ld workers alive, max_inflight %ld:"
		    " %ld wait for a place", o->n + o->more, o->alive, cfg->max_inflight,
		    o->n + o->more - (room > 0 ? room : 0));
	if (resumed == 0 && o->silent > 0 && o->n - o->silent < room) {
		struct timespec grace = { SILENT_GRACE_MS / 1000, SILENT_GRACE_MS % 1000 * 1000000L };
		nanosleep(&grace, NULL);
		o->now = codec_now_ms();
	}
	for (int i = 0; resumed >= 0 && i < o->n && resumed < room; i++)
		if (take(o, &o->jobs[i], i >= o->n - o->silent) && spawn_worker(o->jobs[i].case_id) == 0)
			resumed++;
	free(o);
	return resumed;
}

/* Returns the number of jobs resumed, or -1 when the store cannot be read. */
int
reap_run(const struct config *cfg, int *redelivered)
{
	int resumed = resume_orphans(cfg, MAX_PER_RUN, 0);
	*redelivered = redeliver(cfg);
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
 * Once per interval on each host, whatever its responders: only a host's
 * own sweep sees its dead workers by their pids, sooner than their leases.
 */
void
reap_maybe(const struct config *cfg)
{
	static _Atomic int64_t next_check;	/* the threads of a responder call it at once */
	char task[80];
	int64_t now = codec_now_ms();
	if (now < next_check)
		return;
	next_check = now + cfg->reap_interval * 1000;
	snprintf(task, sizeof(task), "reap %s", cfg->host);
	if (store_maintenance_due(task, now, cfg->reap_interval * 1000) == 1)
		spawn_reaper();
}

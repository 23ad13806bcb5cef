/*
 * queue.c: a job's worker starts now, or the job waits queued for a place
 * (store_queue.c): generate and retry start jobs this way. Each worker
 * that ends, and the reaper, start the queued ones, oldest first (reap.c).
 */
#include "codec.h"
#include "config.h"
#include "log.h"
#include "queue.h"
#include "spawn.h"
#include "store_queue.h"
#include "worker.h"

struct dead_count {
	const struct config *cfg;
	int64_t now;
	long n;
};

/* A holder is judged as the reaper judges it: pid here, lease elsewhere. */
static int
count_dead(const char *case_id, const char *host_id, long pid, int64_t lease_until, void *arg)
{
	struct dead_count *d = arg;
	if (!worker_holds(d->cfg->host, host_id, pid, case_id, lease_until, d->now))
		d->n++;
	return 0;
}

/*
 * Jobs at work but for case_id's own. Only at the cap is each worker
 * looked at: one that died holds no place, though its job waits for the
 * reaper, and new jobs must not queue behind it until the next sweep.
 */
static int
workers_at_work(const struct config *cfg, const char *case_id, long *n)
{
	struct dead_count d = { cfg, codec_now_ms(), 0 };
	if (store_workers_at_work(case_id, n) != 0)
		return -1;
	if (*n < cfg->max_inflight || store_each_generating(case_id, count_dead, &d) != 0 ||
	    d.n == 0)
		return 0;
	long dead = d.n;
	log_info("case %s: %ld jobs at work have no live worker; a sweep resumes them", case_id,
	    dead);
	*n -= dead;
	return 0;
}

/*
 * With max_inflight workers at work, one more would only wait for a place
 * to call the image API, as a process of its own: the job waits queued,
 * for the first worker to end or the reaper. Should the count or the mark
 * fail, the worker starts as before.
 */
void
queue_start_or_wait(const struct config *cfg, const char *case_id)
{
	long at_work, here = 0;
	if (workers_at_work(cfg, case_id, &at_work) == 0 && at_work >= cfg->max_inflight &&
	    store_queue(case_id, codec_now_ms()) == 0) {
		log_info("case %s: queued: %ld workers at work, max_inflight %ld", case_id, at_work,
		    cfg->max_inflight);
		return;
	}
	/* This host full: any host with a free place takes the job (reap.c). */
	if (cfg->host_max_jobs > 0 && store_host_at_work(cfg->host, case_id, &here) == 0 &&
	    here >= cfg->host_max_jobs && store_queue(case_id, codec_now_ms()) == 0) {
		log_info("case %s: queued: this host runs %ld workers, host_max_jobs %ld", case_id,
		    here, cfg->host_max_jobs);
		return;
	}
	/* The job is recorded: should the fork fail, the reaper resumes it. */
	if (spawn_worker(case_id) != 0)
		log_error("case %s: worker not started; `imagegen reap` will", case_id);
}

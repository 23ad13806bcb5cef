/* serve.c: the request loops: one CGI request, or FastCGI requests from fd 0 on several threads. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "codec.h"
#include "config.h"
#include "intake.h"
#include "log.h"
#include "reap.h"
#include "request.h"
#include "router.h"
#include "serve.h"
#include "store.h"
#include "store_health.h"

extern char **environ;

int
serve_is_cgi(void)
{
	const char *gi = getenv("GATEWAY_INTERFACE");
	return gi != NULL && *gi != '\0';
}

/* fd 0 is a listening socket: spawn-fcgi and systemd hand it over that way. */
int
serve_is_fastcgi(void)
{
	return !FCGX_IsCGI();
}

/*
 * What a request brings, its body included, read before the route runs:
 * 0, or -1 for a request without method or path, -2 when its body could
 * not be held.
 */
static int
read_request(struct request *r, FCGX_Request *fcgi, char **envp, const struct config *cfg,
    int64_t deadline)
{
	long max = cfg->max_body > cfg->max_webhook_body ? cfg->max_body : cfg->max_webhook_body;
	if (request_init(r, fcgi, envp, cfg) != 0) {
		log_error("serve: request without REQUEST_METHOD or path");
		return -1;
	}
	r->deadline = deadline;
	return request_read_ahead(r, max) == 0 ? 0 : -2;
}

/*
 * Not after a request that met a held lock (it would wait again), nor on
 * a damaged, read-only or unopened file. A file that took no write is
 * tried: the sweep's first write is how the responder learns it can again.
 */
static int
may_reap(void)
{
	return !store_busy() && !store_unreachable() && !store_damaged() && !store_read_only() &&
	    store_is_open();
}

static void
route(struct request *r, int begun)
{
	if (begun != 0) {
		reply_error(r, 500, "internal error", NULL);
		return;
	}
	/* Every route, status too: what a damaged file answers cannot be trusted. */
	if (store_damaged() || !store_is_open()) {
		char why[160];
		snprintf(why, sizeof(why), "the database cannot be written: %s",
		    store_health_write_fault() ? store_health_write_fault() : "");
		reply_error(r, 503, store_damaged() ? "the database is damaged" :
		    store_read_only() ? "the database is read-only" : store_health_write_fault() ?
		    why : "the database is unavailable", NULL);
		return;
	}
	router_dispatch(r);
	if (!r->replied) {
		log_error("serve: %s %s: no reply", r->method, r->path);
		reply_error(r, 500, "internal error", NULL);
	}
}

static void
dispatch(struct request *r, int begun)
{
	int64_t t0 = codec_now_ms();
	const char *m = r->method ? r->method : "-", *p = r->path ? r->path : "-";
	store_busy_reset();
	log_debug("serve: %s %s: start", m, p);
	route(r, begun);
	log_debug("serve: %s %s: %d in %lld ms", m, p, r->replied,
	    (long long)(codec_now_ms() - t0));
}

int
serve_cgi(const struct config *cfg)
{
	struct request r;
	dispatch(&r, read_request(&r, NULL, environ, cfg, 0));
	request_free(&r);
	/* The answer is complete when stdout closes: the web server need not wait for the sweep. */
	fflush(stdout);
	int fd = open("/dev/null", O_WRONLY);
	if (fd >= 0 && dup2(fd, STDOUT_FILENO) >= 0 && may_reap())
		reap_maybe(cfg);
	if (fd > STDOUT_FILENO)
		close(fd);
	return 0;
}

/* A request's IMAGEGEN_CONFIG may not switch configs under a running responder. */
static void
check_config_param(char **envp, const struct config *cfg)
{
	static atomic_int warned;
	const char *p = FCGX_GetParam("IMAGEGEN_CONFIG", envp);
	if (p != NULL && strcmp(p, cfg->path) != 0 && atomic_exchange(&warned, 1) == 0)
		log_warn("serve: request names config %s, but %s was loaded at start-up;"
		    " set IMAGEGEN_CONFIG for the responder itself", p, cfg->path);
}

/*
 * SIGTERM (and libfcgi's own SIGUSR1) stop the responder once the requests
 * in hand are answered. Every thread blocks them, so that no read, write,
 * fsync or busy wait sees EINTR; the intake thread lets them in while it
 * waits on its connections (intake.c), where the handler asks it to stop:
 * it closes the connections whose requests are not in yet, and the
 * serving threads leave once the requests that are have been answered.
 */
static atomic_int serve_stop;		/* the signal, or -1 for a failed accept */
static int serve_devnull = -1;		/* libfcgi's "listening socket": it accepts nothing */
static sigset_t serve_waiting;		/* the intake's mask while it waits: the stops let in */

static void
on_stop(int sig)
{
	int saved = errno, none = 0;
	atomic_compare_exchange_strong(&serve_stop, &none, sig);
	FCGX_ShutdownPending();
	intake_wake();
	errno = saved;
}

static int
stop_signals(void)
{
	struct sigaction sa;
	sigset_t stops;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGUSR1);
	sa.sa_mask = stops;
	serve_devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (serve_devnull < 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGUSR1, &sa, NULL) != 0 ||
	    pthread_sigmask(SIG_BLOCK, &stops, &serve_waiting) != 0)
		return -1;
	sigdelset(&serve_waiting, SIGTERM);
	sigdelset(&serve_waiting, SIGUSR1);
	return 0;
}

/*
 * SQLite: one lock for all a request does, the store's writer and its
 * kept statements being the process's. A status poll takes read_lock
 * instead, for the store's reader: a poll never waits behind a write,
 * which may wait up to 5 s for SQLite's write lock, and polls run beside
 * the writes. PostgreSQL: neither, each thread has its connection of its
 * own. Reading the parameters and the body, and the closing write, run
 * outside both, on every thread at once.
 */
static pthread_mutex_t serve_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t read_lock = PTHREAD_MUTEX_INITIALIZER;
static int have_reader;		/* set before the threads start */

struct server {
	const struct config *cfg;
	struct intake *intake;
	pthread_t *threads;
	long n;
};

/* A poll reaps only when no writer is busy: the next request will, else. */
static void
serve_poll(struct request *r, const struct config *cfg)
{
	pthread_mutex_lock(&read_lock);
	store_use_reader(1);
	dispatch(r, 0);
	store_use_reader(0);
	pthread_mutex_unlock(&read_lock);
	if (may_reap() && pthread_mutex_trylock(&serve_lock) == 0) {
		reap_maybe(cfg);
		pthread_mutex_unlock(&serve_lock);
	}
}

/*
 * A client's reads and writes each wait at most until its input_timeout:
 * one that stalls, sending or reading, holds its own thread no longer.
 */
static void
limit_waits(int fd, int64_t deadline, long input_timeout)
{
	int64_t left = deadline - codec_now_ms();
	struct timeval rcv = { .tv_sec = left > 0 ? left / 1000 : 0,
	    .tv_usec = left > 0 ? (left % 1000) * 1000 : 1000 };
	struct timeval snd = { .tv_sec = input_timeout };
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
}

static void
serve_one(FCGX_Request *fcgi, const struct config *cfg, int64_t deadline)
{
	struct request r;
	int begun = read_request(&r, fcgi, fcgi->envp, cfg, deadline);
	check_config_param(fcgi->envp, cfg);
	if (!store_shared_writer()) {
		/* PostgreSQL: each thread its own connection, its requests at once. */
		dispatch(&r, begun);
		if (may_reap())
			reap_maybe(cfg);
	} else if (have_reader && begun == 0 && router_reads_only(&r)) {
		serve_poll(&r, cfg);
	} else {
		pthread_mutex_lock(&serve_lock);
		dispatch(&r, begun);
		/*
		 * The answer waits in libfcgi's buffer meanwhile: a clock check,
		 * and once per reap_interval a one-row update and a fork. After
		 * FCGX_Finish_r it would take the lock a second time, every request.
		 * Not after a request that met a held lock: it would wait again.
		 */
		if (may_reap())
			reap_maybe(cfg);
		pthread_mutex_unlock(&serve_lock);
	}
	request_free(&r);
	FCGX_Finish_r(fcgi);
}

/*
 * A connection from the intake: libfcgi reads its request from the first
 * byte (FCGX_Accept_r takes an open ipcFd as it is, and keepConnection
 * keeps its own finish of the last request from closing it), serves it,
 * and leaves it open only when the client asked so (FCGI_KEEP_CONN).
 */
static void *
serve_thread(void *arg)
{
	struct server *sv = arg;
	struct intake_conn c;
	FCGX_Request fcgi;
	if (FCGX_InitRequest(&fcgi, serve_devnull, 0) != 0)
		return NULL;
	while (intake_take(sv->intake, &c) == 0) {
		limit_waits(c.fd, c.deadline, sv->cfg->input_timeout);
		fcgi.ipcFd = c.fd;
		fcgi.keepConnection = 1;
		int kept = -1;
		if (FCGX_Accept_r(&fcgi) == 0) {
			serve_one(&fcgi, sv->cfg, c.deadline);
			kept = fcgi.ipcFd;
		}
		fcgi.ipcFd = -1;
		intake_done(sv->intake, &c, kept);
	}
	return NULL;
}

/* Threads start with the stop signals blocked, as the caller has them. */
static long
start_threads(struct server *sv)
{
	long started = 0;
	sv->threads = calloc((size_t)sv->n, sizeof(*sv->threads));
	if (sv->threads == NULL)
		return 0;
	for (; started < sv->n; started++) {
		int err = pthread_create(&sv->threads[started], NULL, serve_thread, sv);
		if (err != 0) {
			log_error("serve: cannot start thread %ld of %ld: %s", started + 1, sv->n,
			    strerror(err));
			break;
		}
	}
	sv->n = started;
	return started;
}

/*
 * With no request coming, a responder still sweeps: when it starts (after
 * a reboot, the timer starts it) and every reap_interval. The reaper it
 * forks, and the workers that resumes, then belong to the responder's own
 * systemd unit, which lives, not to a oneshot's that has ended.
 */
static pthread_mutex_t sweep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweep_wake = PTHREAD_COND_INITIALIZER;
static int sweep_done;

static void *
sweep_thread(void *arg)
{
	const struct config *cfg = arg;
	pthread_mutex_lock(&sweep_lock);
	while (!sweep_done) {
		pthread_mutex_unlock(&sweep_lock);
		pthread_mutex_lock(&serve_lock);
		store_busy_reset();	/* as a request: its connection is looked at */
		if (may_reap())
			reap_maybe(cfg);
		pthread_mutex_unlock(&serve_lock);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += cfg->reap_interval;
		pthread_mutex_lock(&sweep_lock);
		while (!sweep_done && pthread_cond_timedwait(&sweep_wake, &sweep_lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&sweep_lock);
	return NULL;
}

static void
sweep_stop(pthread_t t)
{
	pthread_mutex_lock(&sweep_lock);
	sweep_done = 1;
	pthread_cond_signal(&sweep_wake);
	pthread_mutex_unlock(&sweep_lock);
	pthread_join(t, NULL);
}

int
serve_fastcgi(const struct config *cfg)
{
	struct server sv = { .cfg = cfg, .n = cfg->threads };
	/* A client gone mid-reply must cost one request, not the process. */
	signal(SIGPIPE, SIG_IGN);
	/* Before FCGX_Init, which installs its SIGUSR1 handler only where none is. */
	if (stop_signals() != 0) {
		log_error("serve: cannot install the SIGTERM handler: %s", strerror(errno));
		return 1;
	}
	if (FCGX_Init() != 0) {
		log_error("serve: cannot initialise libfcgi");
		return 1;
	}
	/*
	 * SQLite's page cache and statement journals are freed at the end of
	 * each transaction; glibc would hand that heap top back to the kernel
	 * and grow it again on the next request, two brk calls a request.
	 */
	if (mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024) != 1)
		log_warn("serve: mallopt failed; each request may cost more");
	have_reader = store_open_reader(cfg->database) == 0;
	if (!have_reader)
		log_warn("serve: no reader connection; polls wait behind writes");
	if ((sv.intake = intake_start(cfg, 0, sv.n, &serve_waiting)) == NULL)
		return 1;
	if (start_threads(&sv) == 0) {
		intake_free(sv.intake);
		free(sv.threads);
		return 1;
	}
	log_info("serve: FastCGI responder ready, %ld threads", sv.n);
	pthread_t sweeper;
	int sweeping = pthread_create(&sweeper, NULL, sweep_thread, (void *)cfg) == 0;
	if (!sweeping)
		log_warn("serve: no sweep thread; orphaned jobs resume on requests only");
	for (long i = 0; i < sv.n; i++)
		pthread_join(sv.threads[i], NULL);
	if (sweeping)
		sweep_stop(sweeper);
	int failed = intake_failed(sv.intake);
	intake_free(sv.intake);
	free(sv.threads);
	int stop = atomic_load(&serve_stop);
	if (stop > 0 && !failed) {
		log_info("serve: %s: the requests in hand are answered; exiting",
		    stop == SIGTERM ? "SIGTERM" : "SIGUSR1");
		return 0;
	}
	return 1;
}

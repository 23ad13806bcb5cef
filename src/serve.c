/* serve.c: the request loops: one CGI request, or FastCGI requests on fd 0. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "config.h"
#include "log.h"
#include "reap.h"
#include "request.h"
#include "router.h"
#include "serve.h"

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

static void
handle(FCGX_Request *fcgi, char **envp, const struct config *cfg)
{
	struct request r;
	if (request_init(&r, fcgi, envp, cfg) != 0) {
		log_error("serve: request without REQUEST_METHOD or path");
		reply_error(&r, 500, "internal error", NULL);
	} else {
		router_dispatch(&r);
		if (!r.replied) {
			log_error("serve: %s %s: no reply", r.method, r.path);
			reply_error(&r, 500, "internal error", NULL);
		}
	}
	request_free(&r);
}

int
serve_cgi(const struct config *cfg)
{
	handle(NULL, environ, cfg);
	/* The answer is complete when stdout closes: the web server need not wait for the sweep. */
	fflush(stdout);
	int fd = open("/dev/null", O_WRONLY);
	if (fd >= 0 && dup2(fd, STDOUT_FILENO) >= 0)
		reap_maybe(cfg);
	if (fd > STDOUT_FILENO)
		close(fd);
	return 0;
}

/* A request's IMAGEGEN_CONFIG may not switch configs under a running responder. */
static void
check_config_param(char **envp, const struct config *cfg)
{
	static int warned;
	const char *p = FCGX_GetParam("IMAGEGEN_CONFIG", envp);
	if (p != NULL && strcmp(p, cfg->path) != 0 && !warned) {
		log_warn("serve: request names config %s, but %s was loaded at start-up;"
		    " set IMAGEGEN_CONFIG for the responder itself", p, cfg->path);
		warned = 1;
	}
}

/*
 * SIGTERM (and libfcgi's own SIGUSR1) stop the responder once the request
 * in hand is answered. The signals are blocked while a request is served,
 * so that no read, write, fsync or busy wait of it sees EINTR; they are
 * delivered only inside FCGX_Accept_r. There the handler tells libfcgi to
 * accept no more (FCGX_ShutdownPending) and puts /dev/null on fd 0, so that
 * an accept() already under way, or about to start, fails at once instead
 * of waiting for one more connection; other responders sharing the
 * listening socket keep it. SA_RESTART lets a request already accepted but
 * still being read (its parameters) finish being read, and be served.
 */
static volatile sig_atomic_t serve_stop;
static int serve_devnull = -1;

static void
on_stop(int sig)
{
	int saved = errno;
	serve_stop = sig;
	FCGX_ShutdownPending();
	if (serve_devnull >= 0)
		dup2(serve_devnull, 0);
	errno = saved;
}

static int
stop_signals(sigset_t *set)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGUSR1);
	sa.sa_mask = *set;
	serve_devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (serve_devnull < 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGUSR1, &sa, NULL) != 0)
		return -1;
	return sigprocmask(SIG_BLOCK, set, NULL);
}

int
serve_fastcgi(const struct config *cfg)
{
	FCGX_Request fcgi;
	sigset_t stops;
	int rc;
	/* A client gone mid-reply must cost one request, not the process. */
	signal(SIGPIPE, SIG_IGN);
	/* Before FCGX_Init, which installs its SIGUSR1 handler only where none is. */
	if (stop_signals(&stops) != 0) {
		log_error("serve: cannot install the SIGTERM handler: %s", strerror(errno));
		return 1;
	}
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgi, 0, 0) != 0) {
		log_error("serve: cannot initialise libfcgi");
		return 1;
	}
	log_info("serve: FastCGI responder ready");
	for (;;) {
		sigprocmask(SIG_UNBLOCK, &stops, NULL);
		rc = FCGX_Accept_r(&fcgi);
		sigprocmask(SIG_BLOCK, &stops, NULL);
		if (rc < 0)
			break;
		check_config_param(fcgi.envp, cfg);
		handle(&fcgi, fcgi.envp, cfg);
		FCGX_Finish_r(&fcgi);
		reap_maybe(cfg);
	}
	if (serve_stop) {
		log_info("serve: %s: the request in hand is answered; exiting",
		    serve_stop == SIGTERM ? "SIGTERM" : "SIGUSR1");
		return 0;
	}
	log_error("serve: accept: %s", rc == -9999 ? "failed" : strerror(-rc));
	return 1;
}

/* serve.c: the request loops: one CGI request, or FastCGI requests on fd 0. */
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

int
serve_fastcgi(const struct config *cfg)
{
	FCGX_Request fcgi;
	/* A client gone mid-reply must cost one request, not the process. */
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgi, 0, 0) != 0) {
		log_error("serve: cannot initialise libfcgi");
		return 1;
	}
	log_info("serve: FastCGI responder ready");
	while (FCGX_Accept_r(&fcgi) >= 0) {
		check_config_param(fcgi.envp, cfg);
		handle(&fcgi, fcgi.envp, cfg);
		FCGX_Finish_r(&fcgi);
		reap_maybe(cfg);
	}
	log_info("serve: accept loop ended");
	return 0;
}

/* main.c: decide what this process is: FastCGI responder, CGI program or admin tool. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "admin.h"
#include "auth.h"
#include "check.h"
#include "config.h"
#include "image.h"
#include "log.h"
#include "serve.h"
#include "store.h"
#include "store_health.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: imagegen [-c file]                 (FastCGI on fd 0, or CGI)\n"
	    "       imagegen [-c file] initdb | jobs | reap | run CASEID | show CASEID\n"
	    "       imagegen [-c file] backup FILE\n"
	    "       imagegen [-c file] config | check [--generate PATH]\n"
	    "       imagegen version\n");
}

/* Descriptors 0-2 must exist, or the first file we open would become one of them. */
static void
ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			exit(1);
}

static int
start(struct config *cfg, const char *path, int detached)
{
	char err[1024];
	if (config_load(cfg, path, err, sizeof(err)) != 0) {
		log_error("config: %s", err);
		if (!serve_is_cgi())
			fprintf(stderr, "imagegen: %s\n", err);
		return -1;
	}
	log_open(cfg->log, (enum log_level)cfg->log_level, detached);
	/* The worker we fork finds the same file through the environment. */
	if (setenv("IMAGEGEN_CONFIG", cfg->path, 1) != 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    store_open(cfg->database) != 0)
		return -1;
	return 0;
}

/* A CGI program that cannot start still owes the web server an answer. */
static int
serve_failed(int cgi)
{
	if (cgi)
		fputs("Status: 500 Internal Server Error\r\nContent-Type: "
		    "application/json\r\n\r\n{\"error\":\"internal error\"}\n", stdout);
	return 1;
}

static int
serve(struct config *cfg, const char *path)
{
	int cgi = serve_is_cgi(), from, to;
	if (!cgi && !serve_is_fastcgi()) {
		usage();
		return 2;
	}
	char err[512];
	/*
	 * A damaged or read-only file is served, each request answered 503
	 * (a read-only one reads still, when it opened); a CGI start runs no
	 * quick_check.
	 */
	if ((start(cfg, path, 0) != 0 || store_migrate(&from, &to) != 0 ||
	    (!cgi && store_check() != 0)) && !store_damaged() && !store_read_only())
		return serve_failed(cgi);
	int tokens = auth_load(cfg, err, sizeof(err));
	if (tokens < 0) {
		log_error("config: %s", err);
		if (!cgi)
			fprintf(stderr, "imagegen: %s\n", err);
		return serve_failed(cgi);
	}
	if (tokens == 0 && !cgi)
		log_warn("auth: no api_tokens: generate, retry and cancel refuse every request");
	if (!cgi)
		check_warn(cfg);
	if (cfg->webhook_verify == 0 && !cgi)
		log_warn("webhook: webhook_verify = off: anyone who can reach "
		    "/api/webhook/image-progress can rewrite any job not running here");
	else if (*cfg->webhook_verify_secrets == '\0' && *cfg->webhook_secret == '\0' && !cgi)
		log_warn("webhook: no webhook_verify_secrets or webhook_secret: "
		    "/api/webhook/image-progress refuses every update");
	return cgi ? serve_cgi(cfg) : serve_fastcgi(cfg);
}

static int
command(struct config *cfg, const char *path, int argc, char **argv)
{
	int worker = strcmp(argv[0], "worker") == 0;
	if (strcmp(argv[0], "version") == 0) {
		puts("imagegen " PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[0], "config") == 0) {
		char err[1024];
		if (config_load(cfg, path, err, sizeof(err)) != 0) {
			fprintf(stderr, "imagegen: %s\n", err);
			return 1;
		}
		printf("# %s\n", cfg->path);
		config_print(cfg, stdout);
		return 0;
	}
	int admin = !worker && strcmp(argv[0], "run") != 0;
	if (start(cfg, path, worker) != 0 || (admin && store_check() != 0)) {
		if (store_damaged())
			fprintf(stderr, "imagegen: %s is damaged (%s): restore it from a backup\n",
			    cfg->database, store_health_reason());
		else if (store_read_only())
			fprintf(stderr, "imagegen: %s is read-only\n", cfg->database);
		return 1;
	}
	int rc = 0;
	if (worker || strcmp(argv[0], "run") == 0) {
		if (image_init() != 0) {
			log_error("image: cannot set ImageMagick's resource limits");
			return 1;
		}
		rc = admin_command(cfg, argc, argv);
		image_done();
	} else {
		rc = admin_command(cfg, argc, argv);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct config cfg = { 0 };
	const char *path = NULL;
	int c, rc;

	ensure_std_fds();
	/* "+": options end at the command, so a case id such as "-cfile" is never one. */
	while ((c = getopt(argc, argv, "+c:h")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	rc = argc > 0 ? command(&cfg, path, argc, argv) : serve(&cfg, path);
	store_close();
	config_free(&cfg);
	log_close();
	return rc;
}

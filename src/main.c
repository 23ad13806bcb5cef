/* main.c: decide what this process is: FastCGI responder, CGI program or admin tool. */
#include <errno.h>
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
#include "provider.h"
#include "serve.h"
#include "store.h"
#include "store_health.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: imagegen [-c file]                 (FastCGI on fd 0, or CGI)\n"
	    "       imagegen [-c file] initdb | jobs | reap | run CASEID | show CASEID\n"
	    "       imagegen [-c file] backup FILE\n"
	    "       imagegen [-c file] config | check [--generate PATH]\n"
	    "       imagegen help | --help | -h\n"
	    "       imagegen version | --version | -V\n"
	    "The config is -c file, else $IMAGEGEN_CONFIG, else %s.\n"
	    "imagegen(8) has the details.\n", config_default_path());
}

/* Help and version need neither a config nor a database. */
static int
info_command(const char *arg)
{
	if (strcmp(arg, "help") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(arg, "version") == 0 || strcmp(arg, "--version") == 0 ||
	    strcmp(arg, "-V") == 0) {
		puts("imagegen " PACKAGE_VERSION);
		return 0;
	}
	return -1;
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
		/* Once: a CGI program's stderr is the web server's log. */
		if (serve_is_cgi())
			log_error("config: %s", err);
		else
			fprintf(stderr, "imagegen: %s\n", err);
		return -1;
	}
	log_open(cfg->log, (enum log_level)cfg->log_level, detached);
	/* The worker we fork finds the same file through the environment. */
	if (setenv("IMAGEGEN_CONFIG", cfg->path, 1) != 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	return 0;
}

/*
 * A damaged or read-only file is served, each request answered 503 (a
 * read-only one reads still, when it opened); a CGI start runs no
 * quick_check. A database server that cannot be reached is served too:
 * 503s until it answers, each thread reconnecting on its own.
 */
static int
open_store(const struct config *cfg, int cgi)
{
	int from, to;
	if (store_open(cfg->database) != 0 && store_is_uri(cfg->database)) {
		log_warn("store: answering 503 until the database can be reached");
		return 0;
	}
	if (!store_is_open() || store_migrate(&from, &to) != 0 ||
	    (!cgi && store_check() != 0))
		return store_damaged() || store_read_only() ? 0 : -1;
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
	int cgi = serve_is_cgi();
	if (!cgi && !serve_is_fastcgi()) {
		usage(stderr);
		return 2;
	}
	char err[512];
	if (start(cfg, path, 0) != 0 || open_store(cfg, cgi) != 0)
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

/* A file's directory must be there; a server must answer, with the schema in it. */
static int
check_database(const struct config *cfg)
{
	char dir[4096];
	if (store_is_uri(cfg->database)) {
		int rc = store_open(cfg->database) == 0 && store_check_schema(cfg->database) == 0;
		store_close();
		return rc ? 0 : -1;
	}
	snprintf(dir, sizeof(dir), "%s", cfg->database);
	char *slash = strrchr(dir, '/');
	if (slash != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (access(dir, F_OK) != 0) {
		fprintf(stderr, "imagegen: %s: database %s: its directory %s: %s\n", cfg->path,
		    cfg->database, dir, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * What the server checks as it starts, and not config_load alone: exit 0
 * from `imagegen config` means the server will start.
 */
static int
check_config(const struct config *cfg)
{
	char err[512];
	int tokens = auth_load(cfg, err, sizeof(err));
	auth_free();
	if (tokens < 0) {
		fprintf(stderr, "imagegen: %s: %s\n", cfg->path, err);
		return -1;
	}
	if (check_database(cfg) != 0)
		return -1;
	if (tokens == 0)
		fprintf(stderr, "imagegen: warning: no api_tokens: generate, retry and cancel "
		    "refuse every request\n");
	for (int i = 0; i < provider_count(cfg); i++) {
		const struct provider *p = provider_at(cfg, i);
		const char *key = provider_key(p, cfg);
		const struct config_names *m = provider_models(p, cfg);
		if (key != NULL && *key == '\0')
			fprintf(stderr, "imagegen: warning: provider %s has no key: set %s, or "
			    "every image it is asked for fails\n", p->name, p->key_setting);
		if (m != NULL && m->n == 1)
			fprintf(stderr, "imagegen: warning: %s names one model: with a second, "
			    "its retirement would cost no image\n", p->model_setting);
	}
	return 0;
}

static int
config_command(struct config *cfg, const char *path)
{
	char err[1024];
	if (config_load(cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "imagegen: %s\n", err);
		return 1;
	}
	if (check_config(cfg) != 0)
		return 1;
	printf("# %s\n", cfg->path);
	config_print(cfg, stdout);
	return 0;
}

/* Only initdb makes a database; the others say how to get one. */
static int
need_database(const struct config *cfg, const char *cmd)
{
	if (strcmp(cmd, "initdb") == 0 || store_is_uri(cfg->database))
		return 0;
	if (access(cfg->database, F_OK) != 0) {
		fprintf(stderr, "imagegen: %s: %s: run imagegen initdb\n", cfg->database,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
command(struct config *cfg, const char *path, int argc, char **argv)
{
	int worker = strcmp(argv[0], "worker") == 0;
	int detached = worker;
	int rc = info_command(argv[0]);
	if (rc >= 0)
		return rc;
	if (strcmp(argv[0], "config") == 0)
		return config_command(cfg, path);
	char err[1024];
	if (config_load(cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "imagegen: %s\n", err);
		return 1;
	}
	log_open(cfg->log, (enum log_level)cfg->log_level, detached);
	/* A worker is detached: its errors have nowhere to go but the log. */
	log_echo_errors(!detached);
	if (need_database(cfg, argv[0]) != 0)
		return 1;
	int admin = !detached && strcmp(argv[0], "run") != 0;
	if (strcmp(argv[0], "initdb") == 0)
		store_health_expect_new();
	if (setenv("IMAGEGEN_CONFIG", cfg->path, 1) != 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "imagegen: cannot start: out of memory\n");
		return 1;
	}
	/* A worker started as its server went away waits for it (worker.c). */
	int waits = worker && store_is_uri(cfg->database);
	if ((store_open(cfg->database) != 0 && !waits) || (admin && store_check() != 0)) {
		if (store_damaged())
			fprintf(stderr, "imagegen: %s is damaged (%s): restore it from a backup\n",
			    cfg->database, store_health_reason());
		else if (store_read_only())
			fprintf(stderr, "imagegen: %s is read-only\n", cfg->database);
		return 1;
	}
	if (strcmp(argv[0], "initdb") != 0 && !waits && store_check_schema(cfg->database) != 0)
		return 1;
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
	if (argc > 1 && info_command(argv[1]) >= 0)
		return 0;
	/* "+": options end at the command, so a case id such as "-cfile" is never one. */
	while ((c = getopt(argc, argv, "+c:hV")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return info_command("-V");
		default:
			usage(stderr);
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

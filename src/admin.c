/* admin.c: initdb, run, worker, jobs and show: the command table and its handlers; check is check.c's. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "backup.h"
#include "casereq.h"
#include "check.h"
#include "config.h"
#include "log.h"
#include "reap.h"
#include "store.h"
#include "store_health.h"
#include "worker.h"

struct command {
	const char *name;
	int nargs;		/* CASEID or nothing */
	int (*fn)(const struct config *cfg, const char *arg);
};

/* initdb and reap must write: a read-only file is a failure, not a quiet success. */
static int
writable(const struct config *cfg)
{
	if (!store_read_only())
		return 1;
	fprintf(stderr, "imagegen: %s is read-only: make it writable by the user imagegen"
	    " runs as\n", cfg->database);
	return 0;
}

static int
cmd_initdb(const struct config *cfg, const char *arg)
{
	int from, to;
	(void)arg;
	if (!writable(cfg) || store_migrate(&from, &to) != 0)
		return 1;
	printf("%s: schema version %d%s\n", cfg->database, to,
	    from == to ? " (up to date)" : "");
	return 0;
}

static int
cmd_reap(const struct config *cfg, const char *arg)
{
	int sent;
	(void)arg;
	if (!writable(cfg))
		return 1;
	int n = reap_run(cfg, &sent);
	if (n < 0 || sent < 0)
		return 1;
	printf("%d job%s resumed, %d webhook deliver%s sent\n", n, n == 1 ? "" : "s", sent,
	    sent == 1 ? "y" : "ies");
	return 0;
}

static int
cmd_run(const struct config *cfg, const char *case_id)
{
	return worker_run(cfg, case_id, 1);
}

/* A worker that ends leaves its place to a job still without one. */
static int
cmd_worker(const struct config *cfg, const char *case_id)
{
	int rc = worker_run(cfg, case_id, 0);
	if (rc == 0)
		reap_hand_over(cfg);
	return rc;
}

static void
format_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
print_job(const struct job *j, void *arg)
{
	char created[32];
	(void)arg;
	format_time(j->created_at, created, sizeof(created));
	printf("%-24s %-10s %3d/%-3d %3d failed  %s\n", j->case_id, j->status, j->completed,
	    j->total, j->failed, created);
	return 0;
}

static int
cmd_jobs(const struct config *cfg, const char *arg)
{
	(void)cfg;
	(void)arg;
	printf("%-24s %-10s %7s %10s  %s\n", "CASE", "STATUS", "DONE", "", "CREATED");
	return store_each_job(print_job, NULL) == 0 ? 0 : 1;
}

static void
print_detail(const struct job *j, const struct image *im, size_t n)
{
	char created[32], started[32], done[32];
	format_time(j->created_at, created, sizeof(created));
	format_time(j->started_at, started, sizeof(started));
	format_time(j->completed_at, done, sizeof(done));
	printf("case:      %s\nstatus:    %s\nimages:    %d/%d done, %d failed\n"
	    "retries:   %d\ncreated:   %s\nstarted:   %s\nfinished:  %s\nworker:    %ld\n"
	    "webhook:   %s\nerror:     %s\n\n", j->case_id, j->status, j->completed, j->total,
	    j->failed, j->retry_count, created, started, done, j->worker_pid,
	    j->webhook_url ? j->webhook_url : "-", j->last_error ? j->last_error : "-");
	printf("%-20s %-9s %-10s %8s %11s  %-8s %-26s %s\n", "ITEM", "KIND", "STATUS",
	    "ATTEMPTS", "INTERRUPTED", "PROVIDER", "MODEL", "URL/ERROR");
	for (size_t i = 0; i < n; i++)
		printf("%-20s %-9s %-10s %8d %11d  %-8s %-26s %s\n", im[i].item_id,
		    casereq_kind_name(im[i].kind), im[i].status, im[i].attempts,
		    im[i].interrupted, im[i].provider ? im[i].provider : "-",
		    im[i].model ? im[i].model : "-",
		    im[i].error ? im[i].error : im[i].url ? im[i].url : "");
}

static int
cmd_show(const struct config *cfg, const char *case_id)
{
	struct job j;
	struct image *im;
	size_t n;
	(void)cfg;
	int found = store_load(case_id, &j, &im, &n);
	if (found <= 0) {
		fprintf(stderr, "imagegen: %s: %s\n", case_id,
		    found == 0 ? "no such job" : "cannot read the database");
		return 1;
	}
	print_detail(&j, im, n);
	store_free(&j, im, n);
	return 0;
}

static int
cmd_backup(const struct config *cfg, const char *file)
{
	return backup_run(cfg, file) == 0 ? 0 : 1;
}

static const struct command commands[] = {
	{ "backup", 1, cmd_backup },
	{ "initdb", 0, cmd_initdb },
	{ "jobs", 0, cmd_jobs },
	{ "reap", 0, cmd_reap },
	{ "run", 1, cmd_run },
	{ "show", 1, cmd_show },
	{ "worker", 1, cmd_worker },
};

/* Returns the exit status: 0, 1 on failure, 2 on a usage error. */
int
admin_command(const struct config *cfg, int argc, char **argv)
{
	if (strcmp(argv[0], "check") == 0)	/* its own arguments: [--generate PATH] */
		return check_command(cfg, argc, argv);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		if (strcmp(argv[0], c->name) != 0)
			continue;
		/* "imagegen show -- -rf", as the responder spawns its workers. */
		if (argc > 1 && strcmp(argv[1], "--") == 0) {
			argv[1] = argv[0];
			argv++;
			argc--;
		}
		if (argc - 1 != c->nargs) {
			fprintf(stderr, "usage: imagegen %s%s\n", c->name, !c->nargs ? "" :
			    c->fn == cmd_backup ? " FILE" : " CASEID");
			return 2;
		}
		if (c->nargs && c->fn != cmd_backup && !casereq_valid_id(argv[1])) {
			fprintf(stderr, "imagegen: %s: not a valid case id\n", argv[1]);
			return 2;
		}
		return c->fn(cfg, c->nargs ? argv[1] : NULL);
	}
	fprintf(stderr, "imagegen: unknown command \"%s\"\n", argv[0]);
	return 2;
}

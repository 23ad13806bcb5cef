/*
 * bench/ingest.c: the webhook ingest's SQL alone, without HTTP: src/
 * store_progress.c's store_apply_progress() on updates that each complete
 * one image, against bench/ceiling's one autocommit UPDATE, on the same
 * connection and jobs, in alternating blocks. Prints microseconds per
 * update of each.
 *
 * Usage: ingest DATABASE PREFIX [UPDATES]; the database holds jobs
 * PREFIX0..PREFIX3999 with 14 pending evidence images ev-0..ev-13 each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "progress.h"
#include "store.h"
#include "store_int.h"
#include "store_progress.h"
#include "timing.h"

#define JOBS 4000
#define BLOCK 500

/* Update n: job n/14 with its first n%14+1 images, as the wrk script posts them. */
static int
news(const char *prefix, int n, struct progress *p)
{
	char body[4096], err[256];
	int k = n / 14 % JOBS, i = n % 14, len;
	len = snprintf(body, sizeof(body), "{\"caseId\":\"%s%d\",\"status\":\"generating\","
	    "\"completedImages\":%d,\"totalImages\":14,\"evidenceImages\":{", prefix, k, i + 1);
	for (int x = 0; x <= i; x++)
		len += snprintf(body + len, sizeof(body) - (size_t)len,
		    "%s\"ev-%d\":\"https://cdn.example/media/%s%d/ev-%d.jpg\"", x ? "," : "", x,
		    prefix, k, x);
	len += snprintf(body + len, sizeof(body) - (size_t)len,
	    "},\"locationImages\":{},\"failedIds\":[]}");
	if (progress_parse(body, (size_t)len, p, err, sizeof(err)) != 0) {
		fprintf(stderr, "ingest: update %d: %s\n", n, err);
		return -1;
	}
	return 0;
}

static const char CEILING[] = "UPDATE jobs SET updated_at = $1 WHERE case_id = $2";

static int
ceiling(const char *prefix, int n)
{
	char id[64];
	struct sstmt *u = store_stmt(CEILING);
	if (u == NULL)
		return -1;
	snprintf(id, sizeof(id), "%s%d", prefix, n / 14 % JOBS);
	sbind_int(u, 1, n);
	sbind_text(u, 2, id);
	return store_exec_done(u, "ceiling");
}

/* The seeded jobs have no worker: every update is a worker's from elsewhere. */
static int
no_worker(const char *my_host, const char *host_id, long pid, const char *case_id,
    int64_t lease_until, int64_t now)
{
	(void)my_host;
	(void)host_id;
	(void)pid;
	(void)case_id;
	(void)lease_until;
	(void)now;
	return 0;
}

int
main(int argc, char **argv)
{
	int total = argc > 3 ? atoi(argv[3]) : 20000, from, to;
	double t_ingest = 0, t_ceiling = 0;
	log_open("stderr", LOG_LVL_WARN, 0);
	if (argc < 3 || total < BLOCK || store_open(argv[1]) != 0 ||
	    store_migrate(&from, &to) != 0 || store_stmt(CEILING) == NULL) {
		fprintf(stderr, "usage: ingest DATABASE PREFIX [UPDATES >= %d]\n", BLOCK);
		return 1;
	}
	for (int done = 0; done + BLOCK <= total; done += BLOCK) {
		for (int n = done; n < done + BLOCK; n++) {
			struct progress p;
			if (news(argv[2], n, &p) != 0)
				return 1;
			double t0 = now_ms();
			int rc = store_apply_progress(&p, NULL, 1000, "bench", no_worker);
			t_ingest += now_ms() - t0;
			progress_free(&p);
			if (rc != 1) {
				fprintf(stderr, "ingest: update %d not applied (%d)\n", n, rc);
				return 1;
			}
		}
		double t0 = now_ms();
		for (int n = done; n < done + BLOCK; n++)
			if (ceiling(argv[2], n) != 0)
				return 1;
		t_ceiling += now_ms() - t0;
	}
	int n = total / BLOCK * BLOCK;
	printf("ingest_sql_us=%.1f\nceiling_sql_us=%.1f\n", 1000 * t_ingest / n,
	    1000 * t_ceiling / n);
	store_close();
	return 0;
}

/*
 * bench/outbox.c: what the webhook outbox (src/store_outbox.c) adds to a
 * worker's image record: the ImageProgressUpdate of a 14-image job built
 * by the worker from its own view of the job (jobjson_progress), then
 * store_image_completed() with it (older pending rows superseded, the row
 * inserted), against the same transaction without the update, on the same
 * connection and job, in alternating blocks. Prints microseconds per
 * record of each, the medians of the blocks, and their ratio.
 *
 * Usage: outbox DATABASE [BLOCKS]; DATABASE is created (it must not exist).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "config.h"
#include "jobjson.h"
#include "store.h"
#include "store_int.h"
#include "store_worker.h"
#include "timing.h"

#define BLOCK 500

static const char job_sql[] =
    "INSERT INTO jobs (case_id, status, total_images, webhook_url, request_hash,"
    " created_at, updated_at) VALUES ('case-bench', 'generating', 14,"
    " 'https://game.example/hooks/images', 'h', 1, 1);"
    "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 13)"
    " INSERT INTO images (case_id, item_id, kind, position, name, description)"
    " SELECT 'case-bench', 'ev-' || i, 'evidence', i, 'Evidence ' || i,"
    " 'A torn train ticket, number ' || i || ', found under the victim''s desk' FROM k;";

static struct config cfg;
static struct job job = { .case_id = "case-bench", .status = "generating", .total = 14 };
static struct image images[14];
/* The seeded job is generating, at epoch 0: as if claimed. */
static const struct claim claim = { .case_id = "case-bench", .epoch = 0 };

/* The worker's view: item i completed, with its URL, as the job it writes has it. */
static void
view_init(void)
{
	static char urls[14][64];
	for (int i = 0; i < 14; i++) {
		snprintf(images[i].item_id, sizeof(images[i].item_id), "ev-%d", i);
		snprintf(urls[i], sizeof(urls[i]), "/media/case-bench/ev-%d.jpg", i);
		snprintf(images[i].status, sizeof(images[i].status), "completed");
		images[i].url = urls[i];
	}
	job.completed = 14;
}

/* One block of image records, with their updates or without; microseconds each, or -1. */
static double
block(int base, int with_update)
{
	char item[16], path[64];
	double t0 = now_ms();
	for (int i = 0; i < BLOCK; i++) {
		snprintf(item, sizeof(item), "ev-%d", (base + i) % 14);
		snprintf(path, sizeof(path), "/var/lib/imagegen/media/case-bench/%s.jpg", item);
		char *update = with_update ? jobjson_progress(&cfg, &job, images, 14) : NULL;
		int rc = store_image_completed(&claim, item, path, "/media/case-bench/x.jpg",
		    12345, 800, NULL, base + i, update);
		free(update);
		if (rc != 0)
			return -1;
	}
	return (now_ms() - t0) * 1e3 / BLOCK;
}

int
main(int argc, char **argv)
{
	int from, to, blocks = argc > 2 ? atoi(argv[2]) : 10;
	double *off = calloc((size_t)blocks + 1, sizeof(*off));
	double *on = calloc((size_t)blocks + 1, sizeof(*on));
	cfg.image_urls = URLS_PATH;
	view_init();
	if (argc < 2 || blocks < 1 || off == NULL || on == NULL) {
		fprintf(stderr, "usage: outbox DATABASE [BLOCKS]\n");
		return 2;
	}
	if (store_open(argv[1]) != 0 || store_migrate(&from, &to) != 0 ||
	    store_engine()->exec(store_db(), job_sql) != 0) {
		fprintf(stderr, "outbox: cannot set up %s\n", argv[1]);
		return 1;
	}
	for (int b = 0; b < blocks; b++) {
		off[b] = block(2 * b * BLOCK, 0);
		on[b] = block((2 * b + 1) * BLOCK, 1);
		if (off[b] < 0 || on[b] < 0)
			return 1;
	}
	qsort(off, (size_t)blocks, sizeof(*off), cmp_double);
	qsort(on, (size_t)blocks, sizeof(*on), cmp_double);
	printf("image transaction: %.1f us without the outbox row, %.1f us with it: x%.2f\n",
	    off[blocks / 2], on[blocks / 2], on[blocks / 2] / off[blocks / 2]);
	store_close();
	free(off);
	free(on);
	return 0;
}

/* worker.h: generate every image of one job. */
#ifndef IMAGEGEN_WORKER_H
#define IMAGEGEN_WORKER_H

#include <stdint.h>

struct config;

int worker_run(const struct config *cfg, const char *case_id, int take_over);
int worker_alive(long pid, const char *case_id);
int worker_holds(const char *my_host, const char *host_id, long pid, const char *case_id,
	int64_t lease_until, int64_t now);

#endif

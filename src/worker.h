/* worker.h: generate every image of one job. */
#ifndef IMAGEGEN_WORKER_H
#define IMAGEGEN_WORKER_H

struct config;

int worker_run(const struct config *cfg, const char *case_id, int take_over);
int worker_alive(long pid, const char *case_id);

#endif

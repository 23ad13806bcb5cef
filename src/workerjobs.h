/* workerjobs.h: POST /api/worker/jobs: a worker host takes a job the state host dispatched. */
#ifndef IMAGEGEN_WORKERJOBS_H
#define IMAGEGEN_WORKERJOBS_H

struct request;

void workerjobs_handle(struct request *r, const char *rest);

#endif

/* queue.h: start a job's worker, or queue the job past max_inflight. */
#ifndef IMAGEGEN_QUEUE_H
#define IMAGEGEN_QUEUE_H

struct config;

void queue_start_or_wait(const struct config *cfg, const char *case_id);

#endif

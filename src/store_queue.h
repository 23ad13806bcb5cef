/* store_queue.h: jobs that wait for a worker while max_inflight of them run. */
#ifndef IMAGEGEN_STORE_QUEUE_H
#define IMAGEGEN_STORE_QUEUE_H

#include <stdint.h>

int store_workers_at_work(const char *except_case, long *n);
int  store_host_at_work(const char *host, const char *except_case, long *n);
int  store_each_generating(const char *except_case, int (*fn)(const char *case_id,
	const char *host_id, long pid, int64_t lease_until, void *), void *arg);
int store_queue(const char *case_id, int64_t now);
int store_take_queued(const char *case_id, int64_t now);

#endif

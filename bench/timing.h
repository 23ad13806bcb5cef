/* bench/timing.h: the clock and the ordering the benchmark programs share. */
#ifndef IMAGEGEN_BENCH_TIMING_H
#define IMAGEGEN_BENCH_TIMING_H

#include <time.h>

static inline double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* For qsort of doubles, before taking a median or a percentile. */
static inline int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#endif

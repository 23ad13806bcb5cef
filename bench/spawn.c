/*
 * bench/spawn.c: the reference for generate's latency: what starting a
 * detached worker costs on this machine. A double fork with setsid, the
 * grandchild exec'ing /bin/true; the parent waits for the middle child
 * only, as imagegen's responder does. Prints the median and p99 in ms.
 *
 * Usage: spawn [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "timing.h"

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	double *t = calloc((size_t)(n > 0 ? n : 1), sizeof(*t));
	if (t == NULL || n < 1)
		return 1;
	for (int i = 0; i < n; i++) {
		double start = now_ms();
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			setsid();
			if (fork() == 0) {
				execl("/bin/true", "true", (char *)NULL);
				_exit(127);
			}
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		t[i] = now_ms() - start;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("spawn_median_ms=%.3f\nspawn_p99_ms=%.3f\n", t[n / 2], t[n * 99 / 100]);
	free(t);
	return 0;
}

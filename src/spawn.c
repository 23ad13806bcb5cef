/*
 * spawn.c: double fork, setsid, exec. The worker must outlive the responder
 * and hold nothing of it: no listening socket, no pipe to the web server,
 * or the response would not complete until the job did.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "spawn.h"

/* 0-2 onto /dev/null and everything above closed: what a daemon holds. */
void
spawn_detach_fds(void)
{
	int fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		_exit(127);
	for (int i = 0; i < 3; i++)
		if (fd != i && dup2(fd, i) < 0)
			_exit(127);
	if (close_range(3, ~0U, 0) != 0) {
		for (long i = 3, max = sysconf(_SC_OPEN_MAX); i < max; i++)
			close((int)i);
	}
}

/* Runs in the grandchild; only async-signal-safe calls until exec. */
static void
exec_detached(const char *exe, char *const argv[])
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	spawn_detach_fds();
	execv(exe, argv);
	_exit(127);
}

/* argv[0] is "imagegen"; the child finds its config through IMAGEGEN_CONFIG, which main() has set. */
static int
spawn_detached(char *const argv[], const char *case_id)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		log_error("case %s: spawn: readlink /proc/self/exe: %s", case_id,
		    strerror(errno));
		return -1;
	}
	exe[n] = '\0';

	pid_t pid = fork();
	if (pid < 0) {
		log_error("case %s: spawn: fork: %s", case_id, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* The middle child leaves at once, so the worker is re-parented to init. */
		if (setsid() < 0)
			_exit(1);
		pid_t w = fork();
		if (w < 0)
			_exit(1);
		if (w == 0)
			exec_detached(exe, argv);
		_exit(0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			log_error("case %s: spawn: waitpid: %s", case_id, strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("case %s: spawn: the second fork failed", case_id);
		return -1;
	}
	return 0;
}

/* "--": a case id such as "-rf" is an operand, never an option (t/0340). */
int
spawn_worker(const char *case_id)
{
	char *const argv[] = { "imagegen", "worker", "--", (char *)case_id, NULL };
	return spawn_detached(argv, case_id);
}

/* The sweep runs apart from the responder: it may wait on webhook receivers. */
int
spawn_reaper(void)
{
	char *const argv[] = { "imagegen", "reap", NULL };
	return spawn_detached(argv, "-");
}

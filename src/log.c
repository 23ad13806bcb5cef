/* log.c: one line per event, with level and pid, to stderr, syslog or a file. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum sink { SINK_STDERR, SINK_SYSLOG, SINK_FILE };

static enum sink sink = SINK_STDERR;
static enum log_level min_level = LOG_LVL_INFO;
/*
 * A file is written with one write(2) a line, O_APPEND: lines of
 * several threads and processes never mix. Its descriptor number stays
 * the same when SIGHUP reopens it (dup2), so no writer ever holds a
 * closed one.
 */
static int log_fd = -1;
static char log_path[4096];

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const int syslog_prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };

static int
open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/*
 * SIGHUP: logrotate has moved the file away; lines go to a new one at the
 * configured path from now on. Only async-signal-safe calls.
 */
static void
on_hup(int sig)
{
	int saved = errno;
	(void)sig;
	int fd = log_fd >= 0 ? open_file(log_path) : -1;
	if (fd >= 0) {
		dup2(fd, log_fd);
		close(fd);
	}
	errno = saved;
}

/* Without a handler SIGHUP would end the process, a worker mid-case too. */
static int
hup_reopens(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGHUP, &sa, NULL);
}

static int
open_log_file(const char *target)
{
	if (strlen(target) >= sizeof(log_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(log_path, target, strlen(target) + 1);
	return (log_fd = open_file(target)) < 0 ? -1 : 0;
}

/* stderr is /dev/null, as spawn-fcgi leaves it for the responder it forks. */
static int
stderr_is_null(void)
{
	struct stat err, null;
	return fstat(STDERR_FILENO, &err) == 0 && S_ISCHR(err.st_mode) &&
	    stat("/dev/null", &null) == 0 && err.st_rdev == null.st_rdev;
}

/*
 * A detached worker has /dev/null for stderr, and so has a responder that
 * spawn-fcgi forked: "stderr" means syslog there, or its messages would
 * vanish.
 */
int
log_open(const char *target, enum log_level min, int detached)
{
	int quiet = detached || stderr_is_null();
	min_level = min;
	log_close();
	if (target == NULL || strcmp(target, "stderr") == 0) {
		sink = quiet ? SINK_SYSLOG : SINK_STDERR;
	} else if (strcmp(target, "syslog") == 0) {
		sink = SINK_SYSLOG;
	} else if (open_log_file(target) != 0) {
		sink = quiet ? SINK_SYSLOG : SINK_STDERR;
		log_error("log: cannot open %s: %s", target, strerror(errno));
		return -1;
	} else {
		sink = SINK_FILE;
	}
	if (sink == SINK_SYSLOG)
		openlog("imagegen", LOG_PID, LOG_DAEMON);
	if (hup_reopens() != 0)
		log_warn("log: cannot handle SIGHUP: %s", strerror(errno));
	return 0;
}

void
log_close(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
}

/* The log is this process's stderr: a command's own output need not be logged again. */
int
log_is_stderr(void)
{
	return sink == SINK_STDERR;
}

/* An operator at a terminal sees a command's errors whatever the sink. */
static int echo_errors;

void
log_echo_errors(int on)
{
	echo_errors = on;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char msg[2048], line[2200];
	va_list ap;

	if (lvl < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A client's path or a provider's error must not forge a line of its own. */
	for (char *c = msg; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';

	if (echo_errors && lvl == LOG_LVL_ERROR && sink != SINK_STDERR)
		dprintf(STDERR_FILENO, "imagegen: %s\n", msg);
	if (sink == SINK_SYSLOG) {
		syslog(syslog_prio[lvl], "%s: %s", level_names[lvl], msg);
		return;
	}

	char stamp[32];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line, sizeof(line), "%s.%03ldZ imagegen[%ld] %s: %s\n", stamp,
	    ts.tv_nsec / 1000000, (long)getpid(), level_names[lvl], msg);
	if (n >= (int)sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* Nowhere to report a failed log write: the line is lost. */
	ssize_t w = write(sink == SINK_FILE ? log_fd : STDERR_FILENO, line, (size_t)n);
	(void)w;
}

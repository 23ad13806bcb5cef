/* log.c: one line per event, with level and pid, to stderr, syslog or a file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum sink { SINK_STDERR, SINK_SYSLOG, SINK_FILE };

static enum sink sink = SINK_STDERR;
static enum log_level min_level = LOG_LVL_INFO;
static FILE *logfile;

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const int syslog_prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };

/*
 * A detached worker has /dev/null for stderr, so "stderr" means syslog
 * there: its messages would otherwise vanish.
 */
int
log_open(const char *target, enum log_level min, int detached)
{
	min_level = min;
	log_close();
	if (target == NULL || strcmp(target, "stderr") == 0) {
		sink = detached ? SINK_SYSLOG : SINK_STDERR;
	} else if (strcmp(target, "syslog") == 0) {
		sink = SINK_SYSLOG;
	} else {
		logfile = fopen(target, "ae");
		if (logfile == NULL) {
			sink = detached ? SINK_SYSLOG : SINK_STDERR;
			log_error("log: cannot open %s: %s", target, strerror(errno));
			return -1;
		}
		setvbuf(logfile, NULL, _IOLBF, 0);
		sink = SINK_FILE;
	}
	if (sink == SINK_SYSLOG)
		openlog("imagegen", LOG_PID, LOG_DAEMON);
	return 0;
}

void
log_close(void)
{
	if (logfile != NULL)
		fclose(logfile);
	logfile = NULL;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (lvl < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (sink == SINK_SYSLOG) {
		syslog(syslog_prio[lvl], "%s: %s", level_names[lvl], line);
		return;
	}

	char stamp[32];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(sink == SINK_FILE ? logfile : stderr, "%s.%03ldZ imagegen[%ld] %s: %s\n",
	    stamp, ts.tv_nsec / 1000000, (long)getpid(), level_names[lvl], line);
}

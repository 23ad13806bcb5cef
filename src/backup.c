/*
 * backup.c: `imagegen backup FILE`, a consistent copy of the database
 * while responders and workers go on writing. SQLite's: its online backup
 * API (store_copy), written beside FILE, checked, made a single file and
 * only then renamed to FILE, so that a FILE that exists is a whole backup.
 * PostgreSQL's: pg_dump's custom format, which pg_restore reads, made the
 * same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup.h"
#include "config.h"
#include "log.h"
#include "store.h"

/* The log's error reaches the terminal too, whatever the sink (log_echo_errors). */
static int
fail(const char *file, const char *what, const char *why)
{
	log_error("backup %s: %s: %s", file, what, why);
	return -1;
}

static int
sync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

/*
 * pg_dump takes the URI as it is: the password stays where libpq finds it
 * (.pgpass, PGPASSFILE, PGPASSWORD), never in its arguments.
 */
static int
pg_dump(const struct config *cfg, const char *tmp, const char *file)
{
	pid_t pid = fork();
	if (pid == 0) {
		execlp("pg_dump", "pg_dump", "--format=custom", "--file", tmp, "--dbname",
		    cfg->database, (char *)NULL);
		fprintf(stderr, "imagegen: backup: pg_dump: %s (Debian: postgresql-client)\n",
		    strerror(errno));
		_exit(127);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return fail(file, "pg_dump", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fail(file, "pg_dump", "failed (its message is above)");
	return 0;
}

static int
make_copy(const struct config *cfg, const char *tmp, const char *file, int *pages)
{
	if (store_is_uri(cfg->database))
		return pg_dump(cfg, tmp, file);
	return store_copy(tmp, pages) == 0 ? 0 : fail(file, "copy", "see the log");
}

int
backup_run(const struct config *cfg, const char *file)
{
	char tmp[PATH_MAX];
	int pages = 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", file, (long)getpid()) >= (int)sizeof(tmp))
		return fail(file, "name", "too long");
	unlink(tmp);
	/* The copy holds what the database does: readable by its owner only. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(file, "create", strerror(errno));
	close(fd);
	int rc = make_copy(cfg, tmp, file, &pages);
	if (rc == 0 && (sync_file(tmp) != 0 || rename(tmp, file) != 0))
		rc = fail(file, "rename", strerror(errno));
	if (rc != 0) {
		unlink(tmp);
		return -1;
	}
	/* Said once: the log keeps it unless the log is this terminal's stderr. */
	char what[200];
	if (store_is_uri(cfg->database))
		snprintf(what, sizeof(what), "a consistent dump of the database (pg_restore reads it)");
	else
		snprintf(what, sizeof(what), "a consistent copy of %s, %d pages", cfg->database, pages);
	if (!log_is_stderr())
		log_info("backup: %s: %s", file, what);
	printf("%s: %s\n", file, what);
	return 0;
}

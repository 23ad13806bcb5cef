/*
 * backup.c: `imagegen backup FILE`: a consistent copy of the database,
 * made with SQLite's online backup API while responders and workers go on
 * writing. Copying the .db file alone is not a backup: what was committed
 * since the last checkpoint is still in the -wal file beside it, and a
 * copy taken during a write may be torn. The copy is written beside FILE,
 * checked, made a single file (journal_mode DELETE, no -wal) and only then
 * renamed to FILE: a FILE that exists is a whole backup.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backup.h"
#include "config.h"
#include "log.h"
#include "store.h"

#define BUSY_TRIES 100		/* of 100 ms: a writer's checkpoint may hold the file a moment */

/* The log's error reaches the terminal too, whatever the sink (log_echo_errors). */
static int
fail(const char *file, const char *what, const char *why)
{
	log_error("backup %s: %s: %s", file, what, why);
	return -1;
}

/* One read transaction for the whole copy (step -1): a snapshot, not a mix. */
static int
copy(sqlite3 *dst, const char *file, int *pages)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", store_handle(), "main");
	if (b == NULL)
		return fail(file, "cannot start", sqlite3_errmsg(dst));
	int rc, tries = 0;
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED ||
	    rc == SQLITE_OK) {
		if (rc != SQLITE_OK && ++tries > BUSY_TRIES)
			break;
		sqlite3_sleep(100);
	}
	*pages = sqlite3_backup_pagecount(b);
	sqlite3_backup_finish(b);
	return rc == SQLITE_DONE ? 0 : fail(file, "copy", sqlite3_errstr(rc));
}

/* The copy as its own reader will find it: one file, and sound. */
static int
settle(sqlite3 *dst, const char *file)
{
	sqlite3_stmt *s;
	char *msg = NULL;
	if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, &msg) != SQLITE_OK) {
		fail(file, "journal_mode", msg ? msg : sqlite3_errmsg(dst));
		sqlite3_free(msg);
		return -1;
	}
	if (sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK)
		return fail(file, "quick_check", sqlite3_errmsg(dst));
	int ok = sqlite3_step(s) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
	sqlite3_finalize(s);
	return ok ? 0 : fail(file, "quick_check of the copy", "failed");
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

int
backup_run(const struct config *cfg, const char *file)
{
	char tmp[PATH_MAX];
	sqlite3 *dst = NULL;
	int pages = 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", file, (long)getpid()) >= (int)sizeof(tmp))
		return fail(file, "name", "too long");
	unlink(tmp);
	/* The copy holds what the database does: readable by its owner only. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(file, "create", strerror(errno));
	close(fd);
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		unlink(tmp);
		fail(file, "create", dst ? sqlite3_errmsg(dst) : "out of memory");
		sqlite3_close(dst);
		return -1;
	}
	int rc = copy(dst, file, &pages) == 0 && settle(dst, file) == 0 ? 0 : -1;
	if (sqlite3_close(dst) != SQLITE_OK)
		rc = -1;
	if (rc == 0 && (sync_file(tmp) != 0 || rename(tmp, file) != 0))
		rc = fail(file, "rename", strerror(errno));
	if (rc != 0) {
		unlink(tmp);
		return -1;
	}
	/* Said once: the log keeps it unless the log is this terminal's stderr. */
	if (!log_is_stderr())
		log_info("backup: %s copied to %s (%d pages)", cfg->database, file, pages);
	printf("%s: a consistent copy of %s, %d pages\n", file, cfg->database, pages);
	return 0;
}

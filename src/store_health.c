/*
 * store_health.c: what an operator must hear about the database file,
 * each in one line that says what to do: a file that did not exist and is
 * created empty (deleted by mistake?), a WAL cut short (a copy of the .db
 * alone, a truncated -wal: commits since the last checkpoint are lost), a
 * read-only file, damage PRAGMA quick_check or any query finds, and a
 * file that stops taking writes (a full disk, an I/O error, made
 * immutable), said once, with its cause, until a write succeeds again. A
 * damaged store answers 503 on every route (serve.c), not a 500 each; one
 * that cannot be written, on every route that writes (request.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store_health.h"
#include "store_int.h"

#define WAL_HEADER 32
#define WAL_FRAME_HEADER 24

static atomic_int damaged;
static int read_only;
static atomic_int write_fault;	/* SQLite's code of the write fault under way, 0 for none */

static int store_health_write_failed(int errcode, const char *path);
static int expect_new;		/* initdb: a missing file is the one it is to make */
static char reason[512];	/* quick_check's first line, for the admin commands' stderr */

/* Big-endian, as the WAL header has it. */
static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * A WAL is its 32-byte header and whole frames, each a 24-byte header and
 * a page. Any other size is a file cut short: SQLite drops the cut frame
 * and every commit after it, silently. Returns its size, or -1 if whole.
 */
static off_t
cut_size(const char *wal)
{
	unsigned char hdr[WAL_HEADER];
	struct stat st;
	int fd = open(wal, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_size == 0) {
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, hdr, sizeof(hdr));
	close(fd);
	uint32_t page = n == WAL_HEADER ? be32(hdr + 8) : 0;
	if (page == 1)
		page = 65536;
	int whole = page >= 512 && st.st_size >= WAL_HEADER &&
	    (st.st_size - WAL_HEADER) % (page + WAL_FRAME_HEADER) == 0;
	return whole ? -1 : st.st_size;
}

/*
 * A writer of another process may be half-way through a frame: the size
 * must stay the same, and cut, a moment later to be a file cut short.
 */
static void
check_wal(const char *path)
{
	char wal[4200];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	off_t size = cut_size(wal);
	if (size < 0)
		return;
	struct timespec moment = { 0, 100 * 1000 * 1000 };
	nanosleep(&moment, NULL);
	if (cut_size(wal) == size)
		log_error("store: %s is cut short (%lld bytes, not whole frames): what was"
		    " committed after the cut is lost; if that matters, stop imagegen and"
		    " restore the database from a backup (imagegen backup)", wal,
		    (long long)size);
}

/* initdb is about to open the database: that it does not exist yet is no news. */
void
store_health_expect_new(void)
{
	expect_new = 1;
}

/* Before SQLite opens path: would it create it, and is its WAL whole? */
void
store_health_preflight(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 && errno == ENOENT) {
		if (expect_new)
			log_debug("store: %s: creating a new database", path);
		else
			log_warn("store: %s did not exist: creating a new, empty database; if jobs"
			    " were recorded before, it was moved or deleted: restore it from a backup",
			    path);
	} else {
		check_wal(path);
	}
}

/* SQLite falls back to read-only when it cannot open the file for writing. */
void
store_health_opened(sqlite3 *db, const char *path)
{
	if (sqlite3_db_readonly(db, "main") != 1)
		return;
	read_only = 1;
	log_error("store: %s is read-only: imagegen can record nothing; make the file, its"
	    " directory and its -wal and -shm files writable by the user imagegen runs as",
	    path);
}

/*
 * An error code from any query, of the file at path: corruption found late
 * is damage too. Returns 1 for a file that takes no write, said already
 * (store_health_write_failed): the caller's own line goes at debug level.
 */
int
store_health_note(int errcode, const char *path)
{
	if (errcode == SQLITE_CORRUPT || errcode == SQLITE_NOTADB)
		atomic_store(&damaged, 1);
	return store_health_write_failed(errcode, path);
}

/* PRAGMA quick_check: 0 when the file is sound; a line and -1 when it is not. */
int
store_health_check(sqlite3 *db, const char *path)
{
	sqlite3_stmt *s;
	char first[256] = "";
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		if ((rc = sqlite3_step(s)) == SQLITE_ROW)
			snprintf(first, sizeof(first), "%s", sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
	}
	if (rc == SQLITE_ROW && strcmp(first, "ok") == 0)
		return 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		snprintf(first, sizeof(first), "%s", sqlite3_errmsg(db));
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		log_warn("store: %s: quick_check skipped: %s", path, first);
		return 0;
	}
	char why[300];
	snprintf(why, sizeof(why), "PRAGMA quick_check: %s", first);
	store_health_damaged(path, why);
	return -1;
}

/* The one line a damaged file gets, whether quick_check or the open found it. */
void
store_health_damaged(const char *path, const char *why)
{
	atomic_store(&damaged, 1);
	snprintf(reason, sizeof(reason), "%s", why);
	log_error("store: %s is damaged (%s): every request is answered 503 until it is"
	    " repaired; stop imagegen and restore the database from a backup (imagegen"
	    " backup), or recover it with sqlite3's .recover", path, why);
}

int
store_damaged(void)
{
	return atomic_load(&damaged);
}

int
store_read_only(void)
{
	return read_only;
}

const char *
store_health_reason(void)
{
	return reason[0] ? reason : "see the log";
}

/* The primary codes of a file that cannot take a write, whatever the statement. */
int
store_health_is_write_fault(int errcode)
{
	return errcode == SQLITE_FULL || errcode == SQLITE_IOERR || errcode == SQLITE_READONLY ||
	    errcode == SQLITE_CANTOPEN || errcode == SQLITE_PERM;
}

/*
 * A failed call: 1 when it failed because the file cannot take a write,
 * said once (unless the file was opened read-only, said already) until a
 * write succeeds again; the caller's own line then goes at debug level.
 */
static int
store_health_write_failed(int errcode, const char *path)
{
	if (!store_health_is_write_fault(errcode))
		return 0;
	if (atomic_exchange(&write_fault, errcode) == 0 && !read_only)
		log_error("store: %s cannot be written (%s): requests that write are answered 503,"
		    " and workers make no more paid calls, until it can; free space on its"
		    " filesystem, or make the file, its -wal and -shm and its directory writable",
		    path, sqlite3_errstr(errcode));
	return 1;
}

/* A write went through: a fault under way is over. */
void
store_health_write_ok(void)
{
	if (atomic_load(&write_fault) != 0 && atomic_exchange(&write_fault, 0) != 0)
		log_info("store: the database can be written again");
}

/* The cause of the write fault under way, or NULL when writes go through. */
const char *
store_health_write_fault(void)
{
	int e = atomic_load(&write_fault);
	return e != 0 ? sqlite3_errstr(e) : NULL;
}

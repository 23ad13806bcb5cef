/*
 * store_sqlite.c: the store's SQLite engine, the default: one file, WAL,
 * a busy timeout, and the migrations of sql/ counted by PRAGMA
 * user_version. The store's SQL is written with $1-style parameters, as
 * PostgreSQL takes them; they reach SQLite as ?1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "migrations.h"
#include "store_health.h"
#include "store_int.h"

#define BUSY_TIMEOUT_MS 5000
#define N_MIGRATIONS MIGRATIONS_COUNT

struct sdb {
	sqlite3 *db;
	int last_error;		/* the extended code of the last failed call */
};

struct sstmt {
	sqlite3_stmt *s;
	struct sdb *db;
};

/* Kept for lite_fault; a file that takes no write is said once, by store_health.c. */
static int
note(struct sdb *d, int rc)
{
	d->last_error = rc;
	return store_health_note(rc & 0xff, sqlite3_db_filename(d->db, "main"));
}

/* $1 becomes ?1, outside string literals and quoted names. */
static char *
dollars(const char *sql)
{
	char *out = strdup(sql), quote = 0;
	for (char *p = out; p != NULL && *p != '\0'; p++) {
		if (quote != 0 && *p == quote)
			quote = 0;
		else if (quote == 0 && (*p == '\'' || *p == '"'))
			quote = *p;
		else if (quote == 0 && *p == '$' && p[1] >= '0' && p[1] <= '9')
			*p = '?';
	}
	return out;
}

static int
lite_exec(struct sdb *d, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(d->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK && note(d, sqlite3_extended_errcode(d->db)))
		log_debug("store: %.60s: %s", sql, msg ? msg : sqlite3_errmsg(d->db));
	else if (rc != SQLITE_OK)
		log_error("store: %.60s: %s", sql, msg ? msg : sqlite3_errmsg(d->db));
	else if (strcmp(sql, "COMMIT") == 0) {
		store_health_write_ok();
	}
	sqlite3_free(msg);
	return rc == SQLITE_OK ? 0 : -1;
}

/* IMMEDIATE: the write lock now, so that a read inside cannot be outdated by another's. */
static int
lite_begin(struct sdb *d)
{
	return lite_exec(d, "BEGIN IMMEDIATE");
}

/* A deferred BEGIN takes no lock: a WAL snapshot for the reads that follow. */
static int
lite_begin_read(struct sdb *d)
{
	return lite_exec(d, "BEGIN");
}

static int
lite_in_txn(struct sdb *d)
{
	return !sqlite3_get_autocommit(d->db);
}

/* synchronous=NORMAL is durable across process crashes in WAL mode, and 10x cheaper. */
static int
lite_open(struct sdb **out, const char *path, int reader)
{
	static const char *const writer_pragmas[] = { "PRAGMA journal_mode = WAL",
	    "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON", NULL };
	/* query_only: no bug can write through the status route's connection. */
	static const char *const reader_pragmas[] = { "PRAGMA query_only = ON", NULL };
	struct sdb *d = calloc(1, sizeof(*d));
	int rc = d == NULL ? -1 : 0;
	if (rc == 0 && !reader)
		store_health_preflight(path);
	if (rc == 0 && sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE |
	    (reader ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("store: open %s: %s", path, d->db ? sqlite3_errmsg(d->db) :
		    "out of memory");
		if (d->db != NULL)
			note(d, sqlite3_extended_errcode(d->db));
		rc = -1;
	}
	if (rc == 0 && sqlite3_busy_timeout(d->db, BUSY_TIMEOUT_MS) != SQLITE_OK)
		rc = -1;
	if (rc == 0 && !reader)
		store_health_opened(d->db, path);
	for (const char *const *p = reader ? reader_pragmas : writer_pragmas; rc == 0 && *p;
	    p++)
		rc = lite_exec(d, *p);
	if (rc != 0 && d != NULL) {
		if (!reader && store_damaged())
			store_health_damaged(path, sqlite3_errstr(SQLITE_CORRUPT));
		sqlite3_close(d->db);
		free(d);
		d = NULL;
	}
	*out = d;
	return rc;
}

/*
 * Every statement goes with it: with one left, the close fails, and the
 * last connection to close would not checkpoint the -wal into the file.
 */
static void
lite_close(struct sdb *d)
{
	sqlite3_stmt *s;
	if (d == NULL)
		return;
	while (d->db != NULL && (s = sqlite3_next_stmt(d->db, NULL)) != NULL)
		sqlite3_finalize(s);
	sqlite3_close(d->db);
	free(d);
}

static struct sstmt *
lite_prepare(struct sdb *d, const char *sql)
{
	char *text = dollars(sql);
	struct sstmt *st = text ? calloc(1, sizeof(*st)) : NULL;
	int rc = st == NULL ? SQLITE_NOMEM : sqlite3_prepare_v3(d->db, text, -1,
	    SQLITE_PREPARE_PERSISTENT, &st->s, NULL);
	free(text);
	if (rc != SQLITE_OK) {
		note(d, sqlite3_extended_errcode(d->db));
		free(st);
		return NULL;
	}
	st->db = d;
	return st;
}

static void
lite_finalize(struct sstmt *st)
{
	if (st != NULL)
		sqlite3_finalize(st->s);
	free(st);
}

static void
lite_bind_int(struct sstmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st->s, i, v);
}

static void
lite_bind_text(struct sstmt *st, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(st->s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st->s, i);
}

static void
lite_bind_blob(struct sstmt *st, int i, const void *v, size_t len)
{
	sqlite3_bind_blob64(st->s, i, v, len, SQLITE_TRANSIENT);
}

static enum sstep
lite_step(struct sstmt *st)
{
	int rc = sqlite3_step(st->s);
	if (rc == SQLITE_ROW)
		return SS_ROW;
	/* A write that committed on its own: the file takes writes (again). */
	if (rc == SQLITE_DONE && !sqlite3_stmt_readonly(st->s) &&
	    sqlite3_get_autocommit(st->db->db))
		store_health_write_ok();
	if (rc == SQLITE_DONE)
		return SS_DONE;
	note(st->db, sqlite3_extended_errcode(st->db->db));
	return SS_ERROR;
}

static void
lite_reset(struct sstmt *st)
{
	sqlite3_reset(st->s);
	sqlite3_clear_bindings(st->s);
}

static int
lite_is_null(struct sstmt *st, int col)
{
	return sqlite3_column_type(st->s, col) == SQLITE_NULL;
}

static int64_t
lite_col_int(struct sstmt *st, int col)
{
	return sqlite3_column_int64(st->s, col);
}

static const char *
lite_col_text(struct sstmt *st, int col)
{
	return (const char *)sqlite3_column_text(st->s, col);
}

static const void *
lite_col_blob(struct sstmt *st, int col, size_t *len)
{
	const void *b = sqlite3_column_blob(st->s, col);
	*len = (size_t)sqlite3_column_bytes(st->s, col);
	return b;
}

static int64_t
lite_changes(struct sstmt *st)
{
	return sqlite3_changes64(st->db->db);
}

static const char *
lite_errmsg(struct sdb *d)
{
	return d != NULL && d->db != NULL ? sqlite3_errmsg(d->db) : "the store is not open";
}

static enum sfault
lite_fault(struct sdb *d)
{
	switch (d == NULL ? SQLITE_ERROR : d->last_error & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return SF_BUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return SF_DAMAGED;
	default:
		return store_health_is_write_fault(d->last_error & 0xff) ? SF_UNWRITABLE : SF_OTHER;
	}
}

static int
user_version(struct sdb *d, int *v)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(d->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	*v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Each migration and its user_version bump commit together, and the version
 * is read inside the write transaction, so responders starting at once
 * cannot apply the same migration twice.
 */
static int
migrate_one(struct sdb *d, int *version)
{
	char bump[64], what[32];
	if (lite_exec(d, "BEGIN IMMEDIATE") != 0)
		return -1;
	if (user_version(d, version) != 0) {
		log_error("store: read user_version: %s", sqlite3_errmsg(d->db));
		goto fail;
	}
	if (*version >= N_MIGRATIONS)
		return lite_exec(d, "COMMIT");
	snprintf(what, sizeof(what), "migration %d", *version + 1);
	snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", *version + 1);
	char *msg = NULL;
	if (sqlite3_exec(d->db, migrations[*version], NULL, NULL, &msg) != SQLITE_OK) {
		note(d, sqlite3_extended_errcode(d->db));
		log_error("store: %s: %s", what, msg ? msg : sqlite3_errmsg(d->db));
		sqlite3_free(msg);
		goto fail;
	}
	if (lite_exec(d, bump) != 0 || lite_exec(d, "COMMIT") != 0)
		goto fail;
	(*version)++;
	return 0;
fail:
	lite_exec(d, "ROLLBACK");
	return -1;
}

static int
lite_migrate(struct sdb *d, int *from, int *to)
{
	int v = -1;
	*from = -1;
	do {
		if (migrate_one(d, &v) != 0)
			return -1;
		if (*from < 0)
			*from = v - (v > 0 && v <= N_MIGRATIONS ? 1 : 0);
	} while (v < N_MIGRATIONS);
	*to = v;
	return 0;
}

/* The admin commands but initdb need the schema, and never create a database. */
static int
lite_schema_ok(struct sdb *d, const char *path)
{
	int v = 0;
	if (user_version(d, &v) != 0) {
		log_error("store: %s: %s: is it an imagegen database? run imagegen initdb",
		    path, sqlite3_errmsg(d->db));
		return -1;
	}
	if (v == 0)
		log_error("store: %s: no schema: run imagegen initdb", path);
	else if (v < N_MIGRATIONS)
		log_error("store: %s: schema version %d, this imagegen needs %d: run imagegen "
		    "initdb", path, v, N_MIGRATIONS);
	return v > 0 && v >= N_MIGRATIONS ? 0 : -1;
}

static int
lite_check(struct sdb *d, const char *path)
{
	return store_health_check(d->db, path);
}

#define BUSY_TRIES 100		/* of 100 ms: a writer's checkpoint may hold the file a moment */

/* One read transaction for the whole copy (step -1): a snapshot, not a mix. */
static int
backup_pages(sqlite3 *src, sqlite3 *dst, int *pages)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (b == NULL) {
		log_error("backup: cannot start: %s", sqlite3_errmsg(dst));
		return -1;
	}
	int rc, tries = 0;
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED ||
	    rc == SQLITE_OK) {
		if (rc != SQLITE_OK && ++tries > BUSY_TRIES)
			break;
		sqlite3_sleep(100);
	}
	*pages = sqlite3_backup_pagecount(b);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		log_error("backup: copy: %s", sqlite3_errstr(rc));
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The copy as its own reader will find it: one file (no -wal), and sound. */
static int
settle(sqlite3 *dst)
{
	sqlite3_stmt *s;
	if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK) {
		log_error("backup: settle the copy: %s", sqlite3_errmsg(dst));
		return -1;
	}
	int ok = sqlite3_step(s) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
	sqlite3_finalize(s);
	if (!ok)
		log_error("backup: the quick_check of the copy failed");
	return ok ? 0 : -1;
}

/*
 * SQLite's online backup API, while responders and workers go on writing:
 * copying the .db file alone is no backup, what was committed since the
 * last checkpoint is still in the -wal beside it.
 */
static int
lite_copy(struct sdb *d, const char *path, int *pages)
{
	sqlite3 *dst = NULL;
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		log_error("backup: open %s: %s", path, dst ? sqlite3_errmsg(dst) :
		    "out of memory");
		sqlite3_close(dst);
		return -1;
	}
	int rc = backup_pages(d->db, dst, pages) == 0 && settle(dst) == 0 ? 0 : -1;
	if (sqlite3_close(dst) != SQLITE_OK)
		rc = -1;
	return rc;
}

const struct store_engine store_sqlite = {
	.name = "sqlite",
	.open = lite_open,
	.close = lite_close,
	.exec = lite_exec,
	.begin = lite_begin,
	.begin_read = lite_begin_read,
	.in_txn = lite_in_txn,
	.alive = NULL,
	.prepare = lite_prepare,
	.finalize = lite_finalize,
	.bind_int = lite_bind_int,
	.bind_text = lite_bind_text,
	.bind_blob = lite_bind_blob,
	.step = lite_step,
	.reset = lite_reset,
	.is_null = lite_is_null,
	.col_int = lite_col_int,
	.col_text = lite_col_text,
	.col_blob = lite_col_blob,
	.changes = lite_changes,
	.errmsg = lite_errmsg,
	.fault = lite_fault,
	.migrate = lite_migrate,
	.schema_ok = lite_schema_ok,
	.check = lite_check,
	.copy = lite_copy,
};

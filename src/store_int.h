/*
 * store_int.h: the store's insides, for the store_*.c files and nothing
 * else, as SQLite keeps sqliteInt.h. Two engines fill one table: SQLite
 * (store_sqlite.c), the embedded default, and PostgreSQL (store_pg.c),
 * for hosts that share one database. The SQL above it is written once,
 * with $1-style parameters, where the dialects agree, and per engine
 * (store_sql) only where they do not.
 */
#ifndef IMAGEGEN_STORE_INT_H
#define IMAGEGEN_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

struct sdb;			/* one connection, the engine's own */
struct sstmt;			/* one statement prepared on it */

enum sstep { SS_ROW, SS_DONE, SS_ERROR };

/* What a failed call met: each is answered in its own way (serve.c, store.c). */
enum sfault {
	SF_NONE,
	SF_BUSY,		/* a lock held past the timeout: 503, try again */
	SF_GONE,		/* the server or the connection is away: 503, reconnect */
	SF_DAMAGED,		/* the file is not a database any more */
	SF_UNWRITABLE,		/* the file takes no write (a full disk): 503, naming it */
	SF_OTHER,
};

struct store_engine {
	const char *name;	/* "sqlite" or "postgresql" */
	int  (*open)(struct sdb **db, const char *target, int reader);
	void (*close)(struct sdb *db);
	int  (*exec)(struct sdb *db, const char *sql);	/* statements without parameters */
	int  (*begin)(struct sdb *db);			/* a write transaction */
	int  (*begin_read)(struct sdb *db);		/* one snapshot for several reads */
	int  (*in_txn)(struct sdb *db);
	int  (*alive)(struct sdb *db);			/* 0: the server closed it meanwhile */
	struct sstmt *(*prepare)(struct sdb *db, const char *sql);
	void (*finalize)(struct sstmt *s);
	void (*bind_int)(struct sstmt *s, int i, int64_t v);
	void (*bind_text)(struct sstmt *s, int i, const char *v);	/* NULL binds NULL */
	void (*bind_blob)(struct sstmt *s, int i, const void *v, size_t len);
	enum sstep (*step)(struct sstmt *s);
	void (*reset)(struct sstmt *s);		/* the bindings go too */
	int  (*is_null)(struct sstmt *s, int col);
	int64_t (*col_int)(struct sstmt *s, int col);	/* a boolean reads 0 or 1 */
	const char *(*col_text)(struct sstmt *s, int col);	/* NULL for NULL */
	const void *(*col_blob)(struct sstmt *s, int col, size_t *len);
	int64_t (*changes)(struct sstmt *s);		/* rows its last step changed */
	const char *(*errmsg)(struct sdb *db);
	enum sfault (*fault)(struct sdb *db);		/* of the last failed call */
	/* The schema: brought up to date (initdb and the responders), or checked. */
	int  (*migrate)(struct sdb *db, int *from, int *to);
	int  (*schema_ok)(struct sdb *db, const char *target);
	int  (*check)(struct sdb *db, const char *target);	/* sound, or one line why */
	int  (*copy)(struct sdb *db, const char *path, int *pages);	/* NULL: none */
};

extern const struct store_engine store_sqlite, store_pg;

/* The engine of the open store, and the connection of this thread. */
const struct store_engine *store_engine(void);
struct sdb *store_db(void);
int  store_is_pg(void);

/*
 * The statement for this SQL text on this thread's connection, prepared
 * on first use and kept for the connection's life: callers pass the same
 * string (a static one), which is its key.
 */
struct sstmt *store_stmt(const char *sql);
/* Two texts, one per engine: the one of the open store. */
#define store_sql(sqlite, pg) (store_is_pg() ? (pg) : (sqlite))

/* Each what in a log line names the statement; the fault is kept for the caller. */
int  store_exec_done(struct sstmt *s, const char *what);	/* no row wanted; reset */
int  store_exec_changed(struct sstmt *s, const char *what);	/* 1 a row changed, 0 none */
enum sstep store_next(struct sstmt *s, const char *what);	/* a row, done, or an error */
void store_done(struct sstmt *s);				/* reset for its next use */
int  store_scalar(struct sstmt *s, const char *what, int64_t *v);	/* 1 a row, 0 none, -1 */
int  store_begin(void);
int  store_begin_read(void);
int  store_commit(void);
void store_rollback(void);
void store_failed(const char *what);	/* logs the connection's error, keeps its fault */

/* Shorthands for the binding and the reading every store file does. */
void sbind_text(struct sstmt *s, int i, const char *v);
void sbind_int(struct sstmt *s, int i, int64_t v);
void sbind_known(struct sstmt *s, int i, int64_t v);	/* -1 binds NULL */
void sbind_null(struct sstmt *s, int i);
int64_t scol_int(struct sstmt *s, int col);
const char *scol_text(struct sstmt *s, int col);		/* "" for NULL */
char *scol_strdup(struct sstmt *s, int col);		/* NULL for NULL */
void scol_copy(struct sstmt *s, int col, char *dst, size_t len);

/* The SQLite engine's file: what an operator must hear of it (store_health.c). */
struct sqlite3;
void store_health_preflight(const char *path);
void store_health_opened(struct sqlite3 *db, const char *path);
int  store_health_check(struct sqlite3 *db, const char *path);
int  store_health_note(int errcode, const char *path);
int  store_health_is_write_fault(int errcode);
void store_health_write_ok(void);
void store_health_damaged(const char *path, const char *why);

#endif

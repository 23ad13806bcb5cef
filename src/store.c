/*
 * store.c: the job store's connections and its statement kit, over one of
 * two engines: SQLite, a file (the default), or PostgreSQL, a server that
 * several hosts share (database = postgresql://...). The domain's queries
 * live in the other store_*.c files; store_int.h is their kit.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "store.h"
#include "store_health.h"
#include "store_int.h"

#define CACHE 256		/* statements kept per connection: the store has about 120 */
#define RECONNECT_MS 1000	/* the least time between two tries to reach the server */

/*
 * One connection and the statements prepared on it, keyed by the address
 * of their SQL text (a static string of the store's files).
 */
struct conn {
	struct sdb *db;
	const char *key[CACHE];
	struct sstmt *val[CACHE];
	int broken;		/* the server went away: reconnect before the next use */
	int64_t tried_at;	/* the last failed try to connect */
};

static const struct store_engine *engine;
static char *target;		/* the path, or the URI, for reconnecting */

/*
 * SQLite: the writer is every route's connection, under serve.c's lock; a
 * FastCGI responder opens a reader too, for the status route alone, so
 * that polls never wait behind a write. PostgreSQL: each thread has its
 * own connection, as libpq wants, opened on its first use.
 */
static struct conn writer, reader;
static _Thread_local struct conn own;
static _Thread_local struct conn *cur;
static _Thread_local enum sfault fault_seen;	/* of this thread's request so far */
static _Thread_local int checked;	/* this request found its connection alive */

const struct store_engine *
store_engine(void)
{
	return engine;
}

int
store_is_pg(void)
{
	return engine == &store_pg;
}

/* postgresql:// and postgres:// are libpq's URIs; anything else is a file's path. */
int
store_is_uri(const char *database)
{
	return strncmp(database, "postgresql://", 13) == 0 ||
	    strncmp(database, "postgres://", 11) == 0;
}

static void
forget(struct conn *c)
{
	for (int i = 0; i < CACHE; i++) {
		if (c->val[i] != NULL)
			engine->finalize(c->val[i]);
		c->key[i] = NULL;
		c->val[i] = NULL;
	}
	engine->close(c->db);
	c->db = NULL;
	c->broken = 0;
}

/* Opens c, but not twice a second: a server that is away is not hammered. */
static int
connect_to(struct conn *c, int for_reader)
{
	int64_t now = codec_now_ms();
	if (c->tried_at != 0 && now - c->tried_at < RECONNECT_MS)
		return -1;
	if (engine->open(&c->db, target, for_reader) != 0) {
		c->tried_at = now;
		return -1;
	}
	c->tried_at = 0;
	return 0;
}

static struct conn *
conn(void)
{
	if (cur == NULL)
		cur = store_is_pg() ? &own : &writer;
	/* Once a request: a server restarted meanwhile closed an idle connection. */
	if (!checked && cur->db != NULL && engine->alive != NULL && !engine->in_txn(cur->db) &&
	    !engine->alive(cur->db))
		cur->broken = 1;
	checked = 1;
	if (cur->broken)
		forget(cur);
	if (cur->db == NULL && engine != NULL && (cur == &own || cur == &writer) &&
	    target != NULL && store_is_pg() && connect_to(cur, 0) != 0)
		fault_seen = SF_GONE;
	return cur;
}

struct sdb *
store_db(void)
{
	return conn()->db;
}

int
store_open(const char *database)
{
	engine = store_is_uri(database) ? &store_pg : &store_sqlite;
	free(target);
	if ((target = strdup(database)) == NULL)
		return -1;
	cur = store_is_pg() ? &own : &writer;
	return connect_to(cur, 0);
}

/* The status route's connection (SQLite); with PostgreSQL each thread has its own. */
int
store_open_reader(const char *database)
{
	(void)database;
	if (store_is_pg())
		return 0;
	return engine->open(&reader.db, target, 1);
}

/* This thread's requests use the reader from now on (on), or the writer. */
void
store_use_reader(int on)
{
	if (!store_is_pg())
		cur = on && reader.db != NULL ? &reader : &writer;
}

/* 1 when the engine is SQLite: one writer a process, which its users take turns on. */
int
store_shared_writer(void)
{
	return !store_is_pg();
}

static unsigned
slot_of(const char *key)
{
	uintptr_t h = (uintptr_t)key;
	h ^= h >> 17;
	h *= 0x9E3779B97F4A7C15ULL;
	return (unsigned)(h >> 40) % CACHE;
}

struct sstmt *
store_stmt(const char *sql)
{
	struct conn *c = conn();
	/* A server away was said once, as the connection failed (store_pg.c). */
	if (c->db == NULL && store_is_pg())
		log_debug("store: the database server cannot be reached");
	else if (c->db == NULL)
		log_error("store: the store is not open");
	if (c->db == NULL)
		return NULL;
	unsigned i = slot_of(sql);
	for (unsigned n = 0; n < CACHE; n++, i = (i + 1) % CACHE) {
		if (c->key[i] == sql)
			return c->val[i];
		if (c->key[i] == NULL)
			break;
	}
	if (c->key[i] != NULL) {
		log_error("store: more than %d statements on one connection", CACHE);
		return NULL;
	}
	struct sstmt *s = engine->prepare(c->db, sql);
	if (s == NULL) {
		store_failed("prepare");
		log_error("store: cannot prepare: %.100s", sql);
		return NULL;
	}
	c->key[i] = sql;
	c->val[i] = s;
	return s;
}

/*
 * Logs what failed, and keeps its kind: a lost server is reconnected next
 * time. A file that takes no write was said once by store_health.c: the
 * caller's own line goes at debug level.
 */
void
store_failed(const char *what)
{
	struct conn *c = cur != NULL ? cur : conn();
	enum sfault f = c->db != NULL ? engine->fault(c->db) : SF_GONE;
	if (fault_seen == SF_NONE || f == SF_GONE)
		fault_seen = f;
	if (f == SF_GONE)
		c->broken = 1;
	const char *why = c->db != NULL ? engine->errmsg(c->db) :
	    "the database server cannot be reached";
	if (f == SF_UNWRITABLE && !store_is_pg())
		log_debug("store: %s: %s", what, why);
	else
		log_error("store: %s: %s", what, why);
}

enum sstep
store_next(struct sstmt *s, const char *what)
{
	enum sstep rc = engine->step(s);
	if (rc == SS_ERROR)
		store_failed(what);
	return rc;
}

void
store_done(struct sstmt *s)
{
	engine->reset(s);
}

/* The first column of the row a statement gives: 1 with *v, 0 for no row, -1 on error. */
int
store_scalar(struct sstmt *s, const char *what, int64_t *v)
{
	enum sstep rc = store_next(s, what);
	*v = rc == SS_ROW ? engine->col_int(s, 0) : 0;
	store_done(s);
	return rc == SS_ROW ? 1 : rc == SS_DONE ? 0 : -1;
}

int
store_exec_done(struct sstmt *s, const char *what)
{
	enum sstep rc = store_next(s, what);
	store_done(s);
	return rc == SS_ERROR ? -1 : 0;
}

int
store_exec_changed(struct sstmt *s, const char *what)
{
	enum sstep rc = store_next(s, what);
	int64_t n = rc == SS_ERROR ? -1 : engine->changes(s);
	store_done(s);
	return n < 0 ? -1 : n > 0;
}

enum begin_kind { BEGIN_WRITE, BEGIN_READ };

/* A transaction on this thread's connection, logged as what when it fails. */
static int
begin_with(enum begin_kind kind, const char *what)
{
	struct conn *c = conn();
	if (c->db == NULL)
		return -1;
	int rc = kind == BEGIN_READ ? engine->begin_read(c->db) : engine->begin(c->db);
	if (rc != 0)
		store_failed(what);
	return rc != 0 ? -1 : 0;
}

int
store_begin(void)
{
	return begin_with(BEGIN_WRITE, "begin");
}

int
store_begin_read(void)
{
	return begin_with(BEGIN_READ, "begin a read");
}

int
store_commit(void)
{
	if (engine->exec(conn()->db, "COMMIT") != 0) {
		store_failed("commit");
		return -1;
	}
	return 0;
}

/* After a failure: a lost connection has no transaction left to end. */
void
store_rollback(void)
{
	struct conn *c = conn();
	/* A failed statement may have ended the transaction already (SQLite does so). */
	if (c->db != NULL && !c->broken && engine->in_txn(c->db) &&
	    engine->exec(c->db, "ROLLBACK") != 0 && engine->fault(c->db) == SF_GONE)
		c->broken = 1;
}

void
sbind_text(struct sstmt *s, int i, const char *v)
{
	engine->bind_text(s, i, v);
}

void
sbind_int(struct sstmt *s, int i, int64_t v)
{
	engine->bind_int(s, i, v);
}

/* A count or a time the caller may not have (-1): NULL in the row, not a number. */
void
sbind_known(struct sstmt *s, int i, int64_t v)
{
	if (v >= 0)
		engine->bind_int(s, i, v);
	else
		engine->bind_text(s, i, NULL);
}

void
sbind_null(struct sstmt *s, int i)
{
	engine->bind_text(s, i, NULL);
}

int64_t
scol_int(struct sstmt *s, int col)
{
	return engine->col_int(s, col);
}

const char *
scol_text(struct sstmt *s, int col)
{
	const char *t = engine->col_text(s, col);
	return t != NULL ? t : "";
}

char *
scol_strdup(struct sstmt *s, int col)
{
	const char *t = engine->col_text(s, col);
	return t != NULL ? strdup(t) : NULL;
}

void
scol_copy(struct sstmt *s, int col, char *dst, size_t len)
{
	snprintf(dst, len, "%s", scol_text(s, col));
}

/* 1 when a call of this thread's request met a lock held past the timeout: 503. */
int
store_busy(void)
{
	return fault_seen == SF_BUSY;
}

/*
 * The cause when a call of this thread's request met a database that takes
 * no write (a full disk): 503, naming it.
 */
const char *
store_unwritable(void)
{
	if (fault_seen != SF_UNWRITABLE)
		return NULL;
	return store_is_pg() ? "the database server's disk is full" : store_health_write_fault();
}

/* 1 when a call of this thread's request found the server away: 503, try again. */
int
store_unreachable(void)
{
	return fault_seen == SF_GONE;
}

/* A new request: what the last met is forgotten, and its connection looked at. */
void
store_busy_reset(void)
{
	fault_seen = SF_NONE;
	checked = 0;
}

int
store_migrate(int *from, int *to)
{
	struct conn *c = conn();
	return c->db == NULL ? -1 : engine->migrate(c->db, from, to);
}

/* 0 when the open failed: a responder on a damaged or read-only file serves 503s. */
int
store_is_open(void)
{
	return store_is_pg() ? target != NULL : writer.db != NULL;
}

/* Sound: SQLite's quick_check, PostgreSQL's answer. 0, or -1 and a line why. */
int
store_check(void)
{
	struct conn *c = conn();
	if (c->db == NULL)
		return store_damaged() || store_is_pg() ? -1 : 0;
	return engine->check(c->db, target);
}

/* The admin commands but initdb need the schema, and never create a database. */
int
store_check_schema(const char *database)
{
	struct conn *c = conn();
	return c->db == NULL ? -1 : engine->schema_ok(c->db, database);
}

/* A consistent copy of an SQLite store into path: -2 for an engine without one. */
int
store_copy(const char *path, int *pages)
{
	struct conn *c = conn();
	if (engine->copy == NULL)
		return -2;
	return c->db == NULL ? -1 : engine->copy(c->db, path, pages);
}

/* This thread's connection, and with SQLite the reader too. */
void
store_close(void)
{
	if (engine == NULL)
		return;
	if (own.db != NULL)
		forget(&own);
	if (reader.db != NULL)
		forget(&reader);
	if (writer.db != NULL)
		forget(&writer);
}

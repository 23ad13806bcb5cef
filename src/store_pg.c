/*
 * store_pg.c: the store's PostgreSQL engine, for hosts that share one
 * database (database = postgresql://...). Statements are prepared once
 * per connection, under names of their own; parameters go as text, but
 * for blobs; a lost connection is a fault of its own (SF_GONE), which the
 * store answers by reconnecting. The schema is sql/pg/schema.sql, then the
 * PostgreSQL twin of each later migration, counted in schema_version.
 */
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#define MIGRATIONS_COUNT_ONLY
#include "migrations.h"
#include "pg_migrations.h"
#include "store_int.h"

#define MAX_PARAMS 32
/* The schema file brings a database to this version, each later twin one more. */
#define PG_BASE_VERSION 20

/* Every migration of SQLite's has its twin here: the versions stay one count. */
_Static_assert(PG_BASE_VERSION + PG_MIGRATIONS_COUNT - 1 == MIGRATIONS_COUNT,
    "sql/pg/ and sql/ are out of step: each new sql/NNN-*.sql needs its sql/pg/NNN-*.sql");

struct sdb {
	PGconn *c;
	int named;		/* statements prepared so far: the next one's name */
	enum sfault fault;
	char err[400];
};

struct sstmt {
	struct sdb *db;
	char name[16];
	int nparams;
	char *vals[MAX_PARAMS];
	int lens[MAX_PARAMS], fmts[MAX_PARAMS];
	PGresult *res;
	int row, rows;		/* the row a step gave, of how many */
	int64_t changes;
	unsigned char *blob;	/* the last blob read, unescaped */
};

/* The first line of libpq's message, for a one-line log. */
static void
keep_error(struct sdb *d, const char *msg)
{
	snprintf(d->err, sizeof(d->err), "%s", msg != NULL && *msg ? msg : "unknown error");
	d->err[strcspn(d->err, "\n")] = '\0';
}

/*
 * What a failed call met, from its SQLSTATE: a lock or a timeout is
 * "busy" (try again), a server gone or one that can no longer write (a
 * standby after a failover) is "gone": the store reconnects, and with
 * target_session_attrs=read-write libpq then finds the new primary.
 */
static enum sfault
classify(PGconn *c, const char *state)
{
	if (PQstatus(c) != CONNECTION_OK || state == NULL)
		return PQstatus(c) != CONNECTION_OK ? SF_GONE : SF_OTHER;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	    strcmp(state, "25006") == 0 || strcmp(state, "53300") == 0)
		return SF_GONE;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)
		return SF_BUSY;
	if (strcmp(state, "53100") == 0)
		return SF_UNWRITABLE;
	return SF_OTHER;
}

/* 0 for a result that is no error; else the fault is noted, and -1. */
static int
result_ok(struct sdb *d, PGresult *r)
{
	ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	d->fault = classify(d->c, r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL);
	keep_error(d, r != NULL && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) :
	    PQerrorMessage(d->c));
	return -1;
}

static int
pg_exec(struct sdb *d, const char *sql)
{
	PGresult *r = PQexec(d->c, sql);
	int rc = result_ok(d, r);
	PQclear(r);
	return rc;
}

static int
pg_begin(struct sdb *d)
{
	return pg_exec(d, "BEGIN");
}

/* One snapshot for every read that follows, as SQLite's deferred BEGIN in WAL. */
static int
pg_begin_read(struct sdb *d)
{
	return pg_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
}

static int
pg_in_txn(struct sdb *d)
{
	PGTransactionStatusType t = PQtransactionStatus(d->c);
	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

/*
 * A connection idle since its last request may have been closed by the
 * server (a restart, a failover): it then has something to read, its last
 * FATAL message or the end of the stream, which an idle one does not.
 * Known so, it is replaced before a statement fails on it.
 */
static int
pg_alive(struct sdb *d)
{
	struct pollfd p = { .fd = PQsocket(d->c), .events = POLLIN | POLLRDHUP };
	return PQstatus(d->c) == CONNECTION_OK && p.fd >= 0 && poll(&p, 1, 0) == 0;
}

/* What the operator can do about a refused connection. */
static const char *
connect_hint(const char *msg)
{
	if (strstr(msg, "password") != NULL)
		return "give the password in ~/.pgpass, the file passfile= or PGPASSFILE names, "
		    "or PGPASSWORD, never in the URI";
	if (strstr(msg, "unsupported startup parameter") != NULL)
		return "PgBouncer: set ignore_startup_parameters = options (imagegen(8), "
		    "SCALING OUT)";
	if (strstr(msg, "does not exist") != NULL)
		return "create the role and the database (imagegen(8), POSTGRESQL)";
	if (strstr(msg, "no pg_hba.conf entry") != NULL)
		return "allow this host in the server's pg_hba.conf";
	return "is the server up, and listening there?";
}

/*
 * The URI as a log may show it: a password, between "user:" and "@" or
 * as password=, is starred (the config refuses one, but a URI may come
 * from elsewhere). What follows a password= is left out.
 */
static void
printable(const char *uri, char *out, size_t len)
{
	const char *auth = strstr(uri, "//"), *at = strchr(uri, '@');
	const char *colon = auth != NULL && at != NULL ? memchr(auth + 2, ':',
	    (size_t)(at - auth - 2)) : NULL;
	if (colon != NULL)
		snprintf(out, len, "%.*s:***%s", (int)(colon - uri), uri, at);
	else
		snprintf(out, len, "%s", uri);
	char *pw = strstr(out, "password=");
	if (pw != NULL && (pw[-1] == '?' || pw[-1] == '&'))
		snprintf(pw, len - (size_t)(pw - out), "password=***");
}

/*
 * The defaults go first, the URI last: what the operator wrote in it wins.
 * The timeouts keep a dead server or a held lock from hanging a worker:
 * keepalives and tcp_user_timeout notice a server that vanished mid-call.
 */
static PGconn *
connect_uri(const char *uri)
{
	static const char *const keys[] = { "connect_timeout", "application_name",
	    "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
	    "options", "dbname", NULL };
	const char *vals[] = { "5", "imagegen", "10", "5", "3", "10000",
	    "-c statement_timeout=60000 -c lock_timeout=5000"
	    " -c idle_in_transaction_session_timeout=60000", uri, NULL };
	return PQconnectdbParams(keys, vals, 1);
}

/* Said once an outage, by whichever connection of the process meets it first. */
static atomic_int away;

static int
pg_open(struct sdb **out, const char *uri, int reader)
{
	(void)reader;
	struct sdb *d = calloc(1, sizeof(*d));
	*out = NULL;
	if (d == NULL || (d->c = connect_uri(uri)) == NULL) {
		log_error("store: out of memory");
		free(d);
		return -1;
	}
	if (PQstatus(d->c) != CONNECTION_OK) {
		char where[512];
		printable(uri, where, sizeof(where));
		keep_error(d, PQerrorMessage(d->c));
		if (atomic_exchange(&away, 1) == 0)
			log_error("store: cannot connect to %s: %s: %s", where, d->err,
			    connect_hint(d->err));
		else
			log_debug("store: cannot connect to %s: %s", where, d->err);
		PQfinish(d->c);
		free(d);
		return -1;
	}
	if (atomic_exchange(&away, 0) != 0) {
		char where[512];
		printable(uri, where, sizeof(where));
		log_info("store: %s answers again", where);
	}
	*out = d;
	return 0;
}

/* The server frees the session's statements and locks with it. */
static void
pg_close(struct sdb *d)
{
	if (d == NULL)
		return;
	PQfinish(d->c);
	free(d);
}

/* The highest $N of the text: the statement's count of parameters. */
static int
count_params(const char *sql)
{
	int n = 0;
	char quote = 0;
	for (const char *p = sql; *p != '\0'; p++) {
		if (quote != 0 && *p == quote)
			quote = 0;
		else if (quote == 0 && (*p == '\'' || *p == '"'))
			quote = *p;
		else if (quote == 0 && *p == '$' && p[1] >= '0' && p[1] <= '9') {
			int k = atoi(p + 1);
			n = k > n ? k : n;
		}
	}
	return n;
}

static struct sstmt *
pg_prepare(struct sdb *d, const char *sql)
{
	struct sstmt *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->db = d;
	st->nparams = count_params(sql);
	snprintf(st->name, sizeof(st->name), "s%d", d->named++);
	PGresult *r = st->nparams <= MAX_PARAMS ? PQprepare(d->c, st->name, sql, 0, NULL) : NULL;
	int rc = r != NULL ? result_ok(d, r) : -1;
	if (r == NULL && st->nparams > MAX_PARAMS)
		keep_error(d, "too many parameters");
	PQclear(r);
	if (rc != 0) {
		free(st);
		return NULL;
	}
	return st;
}

static void
pg_reset(struct sstmt *st)
{
	PQclear(st->res);
	st->res = NULL;
	st->row = st->rows = 0;
	st->changes = 0;
	PQfreemem(st->blob);
	st->blob = NULL;
	for (int i = 0; i < MAX_PARAMS; i++) {
		free(st->vals[i]);
		st->vals[i] = NULL;
		st->lens[i] = st->fmts[i] = 0;
	}
}

/* The statement's server side goes with its connection: pg_close frees it. */
static void
pg_finalize(struct sstmt *st)
{
	if (st == NULL)
		return;
	pg_reset(st);
	free(st);
}

/* A parameter's value, or NULL (SQL's NULL) when it is out of range or out of memory. */
static void
put(struct sstmt *st, int i, char *v, int len, int binary)
{
	if (i < 1 || i > MAX_PARAMS) {
		free(v);
		return;
	}
	free(st->vals[i - 1]);
	st->vals[i - 1] = v;
	st->lens[i - 1] = len;
	st->fmts[i - 1] = binary;
}

static void
pg_bind_int(struct sstmt *st, int i, int64_t v)
{
	char *s = malloc(24);
	if (s != NULL)
		snprintf(s, 24, "%lld", (long long)v);
	put(st, i, s, 0, 0);
}

static void
pg_bind_text(struct sstmt *st, int i, const char *v)
{
	put(st, i, v != NULL ? strdup(v) : NULL, 0, 0);
}

static void
pg_bind_blob(struct sstmt *st, int i, const void *v, size_t len)
{
	char *b = malloc(len > 0 ? len : 1);
	if (b != NULL && len > 0)
		memcpy(b, v, len);
	put(st, i, b, (int)len, 1);
}

static enum sstep
pg_step(struct sstmt *st)
{
	if (st->res == NULL) {
		st->res = PQexecPrepared(st->db->c, st->name, st->nparams,
		    (const char *const *)st->vals, st->lens, st->fmts, 0);
		if (result_ok(st->db, st->res) != 0)
			return SS_ERROR;
		st->rows = PQntuples(st->res);
		st->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
		st->row = -1;
	}
	if (st->row + 1 >= st->rows)
		return SS_DONE;
	st->row++;
	PQfreemem(st->blob);
	st->blob = NULL;
	return SS_ROW;
}

static int
pg_is_null(struct sstmt *st, int col)
{
	return col >= PQnfields(st->res) || PQgetisnull(st->res, st->row, col);
}

/* A boolean comes as t or f: 1 or 0, as SQLite gives it. */
static int64_t
pg_col_int(struct sstmt *st, int col)
{
	if (pg_is_null(st, col))
		return 0;
	const char *v = PQgetvalue(st->res, st->row, col);
	if (*v == 't' || *v == 'f')
		return *v == 't';
	return strtoll(v, NULL, 10);
}

static const char *
pg_col_text(struct sstmt *st, int col)
{
	return pg_is_null(st, col) ? NULL : PQgetvalue(st->res, st->row, col);
}

/* bytea comes in text results as \x and hex digits. */
static const void *
pg_col_blob(struct sstmt *st, int col, size_t *len)
{
	*len = 0;
	if (pg_is_null(st, col))
		return NULL;
	PQfreemem(st->blob);
	st->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->row, col),
	    len);
	return st->blob;
}

static int64_t
pg_changes(struct sstmt *st)
{
	return st->changes;
}

static const char *
pg_errmsg(struct sdb *d)
{
	return d != NULL ? d->err : "the database server cannot be reached";
}

static enum sfault
pg_fault(struct sdb *d)
{
	return d != NULL ? d->fault : SF_GONE;
}

/* One number a query gives, or 0 for none; -1 on error. */
static int
query_int(struct sdb *d, const char *sql, int *v)
{
	PGresult *r = PQexec(d->c, sql);
	int rc = result_ok(d, r);
	*v = rc == 0 && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ?
	    atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return rc;
}

/* The schema's version, 0 when the database has none, -1 on error. */
static int
schema_version(struct sdb *d, int *v)
{
	int there;
	if (query_int(d, "SELECT CAST(to_regclass('schema_version') IS NOT NULL AS INTEGER)",
	    &there) != 0)
		return -1;
	*v = 0;
	return there ? query_int(d, "SELECT max(version) FROM schema_version", v) : 0;
}

/* The next step from version v: the whole schema, or one twin and its bump. */
static int
migrate_step(struct sdb *d, int v)
{
	char bump[128];
	if (v == 0)
		return pg_exec(d, pg_migrations[0]);
	if (pg_exec(d, pg_migrations[v - PG_BASE_VERSION + 1]) != 0)
		return -1;
	snprintf(bump, sizeof(bump), "UPDATE schema_version SET version = %d,"
	    " applied_at = floor(extract(epoch FROM clock_timestamp()) * 1000)", v + 1);
	return pg_exec(d, bump);
}

/*
 * One transaction, under a lock every host's initdb takes: responders
 * starting together on several hosts apply each step once, and a failed
 * step leaves the database as it was.
 */
static int
pg_migrate(struct sdb *d, int *from, int *to)
{
	int v = 0;
	if (pg_begin(d) != 0 ||
	    pg_exec(d, "SELECT pg_advisory_xact_lock(hashtext('imagegen migrate'))") != 0 ||
	    schema_version(d, &v) != 0)
		goto fail;
	*from = v;
	if (v != 0 && v < PG_BASE_VERSION) {
		keep_error(d, "the schema_version table is not imagegen's");
		goto fail;
	}
	while (v < MIGRATIONS_COUNT) {
		if (migrate_step(d, v) != 0)
			goto fail;
		v = v == 0 ? PG_BASE_VERSION : v + 1;
	}
	if (pg_exec(d, "COMMIT") != 0)
		goto fail;
	*to = v;
	return 0;
fail:
	log_error("store: initdb: version %d: %s", v, d->err);
	(void)pg_exec(d, "ROLLBACK");
	return -1;
}

static int
pg_schema_ok(struct sdb *d, const char *uri)
{
	char where[512];
	int v = 0;
	printable(uri, where, sizeof(where));
	if (schema_version(d, &v) != 0) {
		log_error("store: %s: %s", where, d->err);
		return -1;
	}
	if (v == 0)
		log_error("store: %s: no imagegen schema: run imagegen initdb", where);
	else if (v < MIGRATIONS_COUNT)
		log_error("store: %s: schema version %d, this imagegen needs %d: run imagegen "
		    "initdb", where, v, MIGRATIONS_COUNT);
	else if (v > MIGRATIONS_COUNT)
		log_error("store: %s: schema version %d is newer than this imagegen's %d: "
		    "upgrade imagegen on this host", where, v, MIGRATIONS_COUNT);
	return v == MIGRATIONS_COUNT ? 0 : -1;
}

static int
pg_check(struct sdb *d, const char *uri)
{
	(void)uri;
	if (pg_exec(d, "SELECT 1") != 0) {
		log_error("store: %s", d->err);
		return -1;
	}
	return 0;
}

const struct store_engine store_pg = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.begin = pg_begin,
	.begin_read = pg_begin_read,
	.in_txn = pg_in_txn,
	.alive = pg_alive,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.bind_int = pg_bind_int,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.step = pg_step,
	.reset = pg_reset,
	.is_null = pg_is_null,
	.col_int = pg_col_int,
	.col_text = pg_col_text,
	.col_blob = pg_col_blob,
	.changes = pg_changes,
	.errmsg = pg_errmsg,
	.fault = pg_fault,
	.migrate = pg_migrate,
	.schema_ok = pg_schema_ok,
	.check = pg_check,
	.copy = NULL,
};

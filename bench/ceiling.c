/*
 * bench/ceiling.c: the least a FastCGI responder behind the same nginx can
 * do, the reference imagegen's responders are measured against. GET
 * /ceiling/{caseId} answers one prepared SELECT by primary key; POST
 * /ceiling/{caseId} reads the body and runs one prepared UPDATE. It checks
 * nothing else: it is a ceiling, not a product. On either engine: an
 * SQLite file, or a postgresql:// URI (libpq, one connection a process,
 * the two statements prepared on it).
 *
 * Usage, under spawn-fcgi like imagegen: ceiling DATABASE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>
#include <libpq-fe.h>
#include <sqlite3.h>

static const char SEL[] = "SELECT status, completed_images, total_images, version"
    " FROM jobs WHERE case_id = $1";
static const char UPD[] = "UPDATE jobs SET updated_at = $1 WHERE case_id = $2";

static sqlite3 *db;
static sqlite3_stmt *sel, *upd;
static PGconn *pg;

static int
lite_prepare(const char *path)
{
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL",
	    NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v3(db, SEL, -1, SQLITE_PREPARE_PERSISTENT, &sel, NULL) != SQLITE_OK)
		return -1;
	return sqlite3_prepare_v3(db, UPD, -1, SQLITE_PREPARE_PERSISTENT, &upd, NULL) ==
	    SQLITE_OK ? 0 : -1;
}

static int
pg_prepare(const char *uri)
{
	pg = PQconnectdb(uri);
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "ceiling: %s", PQerrorMessage(pg));
		return -1;
	}
	PGresult *a = PQprepare(pg, "sel", SEL, 0, NULL), *b = PQprepare(pg, "upd", UPD, 0, NULL);
	int ok = PQresultStatus(a) == PGRES_COMMAND_OK && PQresultStatus(b) == PGRES_COMMAND_OK;
	PQclear(a);
	PQclear(b);
	return ok ? 0 : -1;
}

static void
answer_row(FCGX_Stream *out, const char *status, int done, int total, int version)
{
	FCGX_FPrintF(out, "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n"
	    "{\"status\":\"%s\",\"completed\":%d,\"total\":%d,\"version\":%d}\n",
	    status, done, total, version);
}

static void
get(FCGX_Stream *out, const char *id)
{
	if (pg != NULL) {
		PGresult *r = PQexecPrepared(pg, "sel", 1, &id, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			answer_row(out, PQgetvalue(r, 0, 0), atoi(PQgetvalue(r, 0, 1)),
			    atoi(PQgetvalue(r, 0, 2)), atoi(PQgetvalue(r, 0, 3)));
		else
			FCGX_FPrintF(out, "Status: 404 Not Found\r\n\r\n");
		PQclear(r);
		return;
	}
	sqlite3_bind_text(sel, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(sel) == SQLITE_ROW)
		answer_row(out, (const char *)sqlite3_column_text(sel, 0),
		    sqlite3_column_int(sel, 1), sqlite3_column_int(sel, 2),
		    sqlite3_column_int(sel, 3));
	else
		FCGX_FPrintF(out, "Status: 404 Not Found\r\n\r\n");
	sqlite3_reset(sel);
}

static int
update(const char *id)
{
	long long now = (long long)time(NULL) * 1000;
	if (pg != NULL) {
		char at[24];
		snprintf(at, sizeof(at), "%lld", now);
		const char *v[2] = { at, id };
		PGresult *r = PQexecPrepared(pg, "upd", 2, v, NULL, NULL, 0);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		return ok ? 0 : -1;
	}
	sqlite3_bind_int64(upd, 1, now);
	sqlite3_bind_text(upd, 2, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(upd);
	sqlite3_reset(upd);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
post(FCGX_Request *r, const char *id)
{
	char buf[65536];
	while (FCGX_GetStr(buf, sizeof(buf), r->in) > 0)
		;
	FCGX_FPrintF(r->out, "%s", update(id) == 0
	    ? "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{\"success\":true}\n"
	    : "Status: 500 Internal Server Error\r\n\r\n");
}

int
main(int argc, char **argv)
{
	FCGX_Request r;
	int uri = argc == 2 && (strncmp(argv[1], "postgresql://", 13) == 0 ||
	    strncmp(argv[1], "postgres://", 11) == 0);
	if (argc != 2 || (uri ? pg_prepare(argv[1]) : lite_prepare(argv[1])) != 0 ||
	    FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0) {
		fprintf(stderr, "usage: ceiling DATABASE (an imagegen database: a file or a URI)\n");
		return 1;
	}
	while (FCGX_Accept_r(&r) >= 0) {
		const char *m = FCGX_GetParam("REQUEST_METHOD", r.envp);
		const char *path = FCGX_GetParam("DOCUMENT_URI", r.envp);
		const char *id = path != NULL ? strrchr(path, '/') : NULL;
		if (m == NULL || id == NULL)
			FCGX_FPrintF(r.out, "Status: 400 Bad Request\r\n\r\n");
		else if (strcmp(m, "POST") == 0)
			post(&r, id + 1);
		else
			get(r.out, id + 1);
		FCGX_Finish_r(&r);
	}
	return 0;
}

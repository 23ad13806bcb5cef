/*
 * bench/ceiling.c: the least a FastCGI responder behind the same nginx can
 * do, the reference imagegen's responders are measured against. GET
 * /ceiling/{caseId} answers one prepared SELECT by primary key; POST
 * /ceiling/{caseId} reads the body and runs one prepared UPDATE. It checks
 * nothing else: it is a ceiling, not a product.
 *
 * Usage, under spawn-fcgi like imagegen: ceiling DATABASE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>
#include <sqlite3.h>

static sqlite3 *db;
static sqlite3_stmt *sel, *upd;

static int
prepare(const char *path)
{
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL",
	    NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v3(db, "SELECT status, completed_images, total_images, version"
	    " FROM jobs WHERE case_id = ?", -1, SQLITE_PREPARE_PERSISTENT, &sel, NULL)
	    != SQLITE_OK)
		return -1;
	return sqlite3_prepare_v3(db, "UPDATE jobs SET updated_at = ? WHERE case_id = ?",
	    -1, SQLITE_PREPARE_PERSISTENT, &upd, NULL) == SQLITE_OK ? 0 : -1;
}

static void
get(FCGX_Stream *out, const char *id)
{
	sqlite3_bind_text(sel, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(sel) == SQLITE_ROW)
		FCGX_FPrintF(out, "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n"
		    "{\"status\":\"%s\",\"completed\":%d,\"total\":%d,\"version\":%d}\n",
		    (const char *)sqlite3_column_text(sel, 0), sqlite3_column_int(sel, 1),
		    sqlite3_column_int(sel, 2), sqlite3_column_int(sel, 3));
	else
		FCGX_FPrintF(out, "Status: 404 Not Found\r\n\r\n");
	sqlite3_reset(sel);
}

static void
post(FCGX_Request *r, const char *id)
{
	char buf[65536];
	while (FCGX_GetStr(buf, sizeof(buf), r->in) > 0)
		;
	sqlite3_bind_int64(upd, 1, (sqlite3_int64)time(NULL) * 1000);
	sqlite3_bind_text(upd, 2, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(upd);
	sqlite3_reset(upd);
	FCGX_FPrintF(r->out, "%s", rc == SQLITE_DONE
	    ? "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{\"success\":true}\n"
	    : "Status: 500 Internal Server Error\r\n\r\n");
}

int
main(int argc, char **argv)
{
	FCGX_Request r;
	if (argc != 2 || prepare(argv[1]) != 0 || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&r, 0, 0) != 0) {
		fprintf(stderr, "usage: ceiling DATABASE (an imagegen database)\n");
		return 1;
	}
	while (FCGX_Accept_r(&r) >= 0) {
		const char *m = FCGX_GetParam("REQUEST_METHOD", r.envp);
		const char *uri = FCGX_GetParam("DOCUMENT_URI", r.envp);
		const char *id = uri != NULL ? strrchr(uri, '/') : NULL;
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

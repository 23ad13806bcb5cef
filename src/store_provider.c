/*
 * store_provider.c: the rows about the providers themselves, on the
 * store's connection: the tokens an image cost (migration 10) and what
 * `imagegen check` found (migration 11).
 */
#include <stdio.h>

#include <sqlite3.h>

#include "store.h"
#include "store_provider.h"

enum query { Q_USAGE, Q_CHECK_ADD, Q_CHECK_LAST, Q_COUNT };

static const struct { const char *what, *sql; } queries[Q_COUNT] = {
	[Q_USAGE] = { "image usage",
	    "UPDATE images SET prompt_tokens = ?3, output_tokens = ?4"
	    " WHERE case_id = ?1 AND item_id = ?2" },
	[Q_CHECK_ADD] = { "record a check",
	    "INSERT INTO provider_checks (provider, model, ok, detail, checked_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)" },
	[Q_CHECK_LAST] = { "last check",
	    "SELECT ok, coalesce(model, ''), detail, checked_at FROM provider_checks"
	    " WHERE provider = ?1 ORDER BY checked_at DESC, rowid DESC LIMIT 1" },
};

static sqlite3_stmt *stmts[Q_COUNT];

static sqlite3_stmt *
prepare(enum query id)
{
	return store_statement(&stmts[id], queries[id].sql, queries[id].what);
}

/* The provider's own count of tokens; -1 for one it did not give. */
int
store_image_usage(const char *case_id, const char *item_id, long prompt_tokens,
    long output_tokens)
{
	sqlite3_stmt *s = prepare(Q_USAGE);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, case_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, item_id, -1, SQLITE_TRANSIENT);
	store_bind_known(s, 3, prompt_tokens);
	store_bind_known(s, 4, output_tokens);
	return store_step(s, queries[Q_USAGE].what);
}

int
store_check_record(const struct check_row *row)
{
	sqlite3_stmt *s = prepare(Q_CHECK_ADD);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, row->provider, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, row->model, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 3, row->ok);
	sqlite3_bind_text(s, 4, row->detail, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 5, row->checked_at);
	return store_step(s, queries[Q_CHECK_ADD].what);
}

/* 1 with *row filled, 0 when the provider was never checked, -1 on error. */
int
store_check_last(const char *provider, struct check_row *row)
{
	sqlite3_stmt *s = prepare(Q_CHECK_LAST);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, provider, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(s), found = rc == SQLITE_ROW;
	if (found) {
		snprintf(row->provider, sizeof(row->provider), "%s", provider);
		row->ok = sqlite3_column_int(s, 0);
		snprintf(row->model, sizeof(row->model), "%s", sqlite3_column_text(s, 1));
		snprintf(row->detail, sizeof(row->detail), "%s", sqlite3_column_text(s, 2));
		row->checked_at = sqlite3_column_int64(s, 3);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return found ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void
store_provider_close(void)
{
	for (int i = 0; i < Q_COUNT; i++) {
		sqlite3_finalize(stmts[i]);
		stmts[i] = NULL;
	}
}

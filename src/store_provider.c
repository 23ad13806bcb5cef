/*
 * store_provider.c: the rows about the providers themselves, on the
 * store's connection: the tokens an image cost (migration 10), what
 * `imagegen check` found (migration 11), and each model's retirement,
 * marked or announced (migration 19).
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_provider.h"

enum query { Q_USAGE, Q_CHECK_ADD, Q_CHECK_LAST, Q_MODEL_GET, Q_MODEL_RETIRE, Q_MODEL_CLEAR,
	Q_MODEL_NOTE, Q_COUNT };

static const struct { const char *what, *sql; } queries[Q_COUNT] = {
	[Q_USAGE] = { "image usage",
	    "UPDATE images SET prompt_tokens = ?3, output_tokens = ?4"
	    " WHERE case_id = ?1 AND item_id = ?2" },
	[Q_CHECK_ADD] = { "record a check",
	    "INSERT INTO provider_checks (provider, model, ok, detail, checked_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)" },
	[Q_CHECK_LAST] = { "last check",
	    "SELECT ok, coalesce(model, ''), detail, checked_at FROM provider_checks"
	    " WHERE provider = ?1 AND model = ?2 ORDER BY checked_at DESC, rowid DESC LIMIT 1" },
	[Q_MODEL_GET] = { "a model's status",
	    "SELECT m.retired_at, m.retired_kind, m.retired_reason, m.stage, m.retires_at,"
	    " EXISTS (SELECT 1 FROM images WHERE provider = ?1 AND model = ?2"
	    "  AND status = 'completed')"
	    " FROM (SELECT ?1 AS provider, ?2 AS model) AS k"
	    " LEFT JOIN models AS m USING (provider, model)" },
	/* The first to say so wins: its time and words stay. */
	[Q_MODEL_RETIRE] = { "retire a model",
	    "INSERT INTO models (provider, model, retired_at, retired_kind, retired_reason,"
	    " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?3)"
	    " ON CONFLICT (provider, model) DO UPDATE SET retired_at = excluded.retired_at,"
	    " retired_kind = excluded.retired_kind, retired_reason = excluded.retired_reason,"
	    " updated_at = excluded.updated_at WHERE models.retired_at IS NULL" },
	[Q_MODEL_CLEAR] = { "clear a model's retirement",
	    "UPDATE models SET retired_at = NULL, retired_kind = NULL, retired_reason = NULL"
	    " WHERE provider = ?1 AND model = ?2 AND retired_at IS NOT NULL" },
	[Q_MODEL_NOTE] = { "note a model's announced retirement",
	    "INSERT INTO models (provider, model, stage, retires_at, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (provider, model) DO UPDATE SET stage = excluded.stage,"
	    " retires_at = excluded.retires_at, updated_at = excluded.updated_at" },
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

/* 1 with *row filled, 0 when the model was never checked, -1 on error. */
int
store_check_last(const char *provider, const char *model, struct check_row *row)
{
	sqlite3_stmt *s = prepare(Q_CHECK_LAST);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, provider, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, model, -1, SQLITE_TRANSIENT);
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

static void
copy_text(char *dst, size_t len, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	snprintf(dst, len, "%s", t != NULL ? (const char *)t : "");
}

/* A statement about one model: ?1 the provider, ?2 the model. */
static sqlite3_stmt *
about(enum query id, const char *provider, const char *model)
{
	sqlite3_stmt *s = prepare(id);
	if (s != NULL) {
		sqlite3_bind_text(s, 1, provider, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, model, -1, SQLITE_TRANSIENT);
	}
	return s;
}

/* 1 when the statement changed a row, 0 when none, -1 on error. */
static int
changed(enum query id, sqlite3_stmt *s)
{
	if (store_step(s, queries[id].what) != 0)
		return -1;
	return sqlite3_changes(store_handle()) == 1;
}

/* 0 with *row filled (all zero for a model never seen), -1 on error. */
int
store_model_get(const char *provider, const char *model, struct model_row *row)
{
	sqlite3_stmt *s = about(Q_MODEL_GET, provider, model);
	if (s == NULL)
		return -1;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		row->retired_at = sqlite3_column_int64(s, 0);
		copy_text(row->retired_kind, sizeof(row->retired_kind), s, 1);
		copy_text(row->retired_reason, sizeof(row->retired_reason), s, 2);
		copy_text(row->stage, sizeof(row->stage), s, 3);
		row->retires_at = sqlite3_column_int64(s, 4);
		row->made_images = sqlite3_column_int(s, 5);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_ROW)
		log_error("store: %s: %s", queries[Q_MODEL_GET].what, sqlite3_errmsg(store_handle()));
	return rc == SQLITE_ROW ? 0 : -1;
}

/* 1 when this call marked it, 0 when it was marked already, -1 on error. */
int
store_model_retire(const char *provider, const char *model, const char *kind,
    const char *reason, int64_t now)
{
	sqlite3_stmt *s = about(Q_MODEL_RETIRE, provider, model);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_text(s, 4, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, reason, -1, SQLITE_TRANSIENT);
	return changed(Q_MODEL_RETIRE, s);
}

/* 1 when it was marked retired and is no more, 0 when it was not, -1 on error. */
int
store_model_clear(const char *provider, const char *model)
{
	sqlite3_stmt *s = about(Q_MODEL_CLEAR, provider, model);
	return s == NULL ? -1 : changed(Q_MODEL_CLEAR, s);
}

/* stage "" and retires_at 0 when the provider announces nothing. */
int
store_model_note(const char *provider, const char *model, const char *stage,
    int64_t retires_at, int64_t now)
{
	sqlite3_stmt *s = about(Q_MODEL_NOTE, provider, model);
	if (s == NULL)
		return -1;
	if (*stage != '\0')
		sqlite3_bind_text(s, 3, stage, -1, SQLITE_TRANSIENT);
	store_bind_known(s, 4, retires_at > 0 ? (long)retires_at : -1);
	sqlite3_bind_int64(s, 5, now);
	return store_step(s, queries[Q_MODEL_NOTE].what);
}

void
store_provider_close(void)
{
	for (int i = 0; i < Q_COUNT; i++) {
		sqlite3_finalize(stmts[i]);
		stmts[i] = NULL;
	}
}

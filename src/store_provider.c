/*
 * store_provider.c: the rows about the providers themselves, on the
 * store's connection: what `imagegen check` found (migration 11), and
 * each model's retirement, marked or announced (migration 19).
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_provider.h"

enum query { Q_CHECK_ADD, Q_CHECK_LAST, Q_MODEL_GET, Q_MODEL_RETIRE, Q_MODEL_CLEAR,
	Q_MODEL_NOTE, Q_COUNT };

static const struct { const char *what, *sql; } queries[Q_COUNT] = {
	[Q_CHECK_ADD] = { "record a check",
	    "INSERT INTO provider_checks (provider, model, ok, detail, checked_at)"
	    " VALUES ($1, $2, $3, $4, $5)" },
	/* rowid orders two checks of one millisecond; PostgreSQL's is the column id. */
	[Q_CHECK_LAST] = { "last check",
	    "SELECT ok, coalesce(model, ''), detail, checked_at FROM provider_checks"
	    " WHERE provider = $1 AND model = $2 ORDER BY checked_at DESC, rowid DESC LIMIT 1" },
	[Q_MODEL_GET] = { "a model's status",
	    "SELECT m.retired_at, m.retired_kind, m.retired_reason, m.stage, m.retires_at,"
	    " EXISTS (SELECT 1 FROM images WHERE provider = $1 AND model = $2"
	    "  AND status = 'completed')"
	    " FROM (SELECT CAST($1 AS TEXT) AS provider, CAST($2 AS TEXT) AS model) AS k"
	    " LEFT JOIN models AS m USING (provider, model)" },
	/* The first to say so wins: its time and words stay. */
	[Q_MODEL_RETIRE] = { "retire a model",
	    "INSERT INTO models (provider, model, retired_at, retired_kind, retired_reason,"
	    " updated_at) VALUES ($1, $2, $3, $4, $5, $3)"
	    " ON CONFLICT (provider, model) DO UPDATE SET retired_at = excluded.retired_at,"
	    " retired_kind = excluded.retired_kind, retired_reason = excluded.retired_reason,"
	    " updated_at = excluded.updated_at WHERE models.retired_at IS NULL" },
	[Q_MODEL_CLEAR] = { "clear a model's retirement",
	    "UPDATE models SET retired_at = NULL, retired_kind = NULL, retired_reason = NULL"
	    " WHERE provider = $1 AND model = $2 AND retired_at IS NOT NULL" },
	[Q_MODEL_NOTE] = { "note a model's announced retirement",
	    "INSERT INTO models (provider, model, stage, retires_at, updated_at)"
	    " VALUES ($1, $2, $3, $4, $5)"
	    " ON CONFLICT (provider, model) DO UPDATE SET stage = excluded.stage,"
	    " retires_at = excluded.retires_at, updated_at = excluded.updated_at" },
};

static const char CHECK_LAST_PG[] =
    "SELECT ok, coalesce(model, ''), detail, checked_at FROM provider_checks"
    " WHERE provider = $1 AND model = $2 ORDER BY checked_at DESC, id DESC LIMIT 1";

static struct sstmt *
prepare(enum query id)
{
	if (id == Q_CHECK_LAST && store_is_pg())
		return store_stmt(CHECK_LAST_PG);
	return store_stmt(queries[id].sql);
}

int
store_check_record(const struct check_row *row)
{
	struct sstmt *s = prepare(Q_CHECK_ADD);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, row->provider);
	sbind_text(s, 2, row->model);
	sbind_int(s, 3, row->ok);
	sbind_text(s, 4, row->detail);
	sbind_int(s, 5, row->checked_at);
	return store_exec_done(s, queries[Q_CHECK_ADD].what);
}

/* 1 with *row filled, 0 when the model was never checked, -1 on error. */
int
store_check_last(const char *provider, const char *model, struct check_row *row)
{
	struct sstmt *s = prepare(Q_CHECK_LAST);
	if (s == NULL)
		return -1;
	sbind_text(s, 1, provider);
	sbind_text(s, 2, model);
	enum sstep rc = store_next(s, queries[Q_CHECK_LAST].what);
	if (rc == SS_ROW) {
		snprintf(row->provider, sizeof(row->provider), "%s", provider);
		row->ok = (int)scol_int(s, 0);
		scol_copy(s, 1, row->model, sizeof(row->model));
		scol_copy(s, 2, row->detail, sizeof(row->detail));
		row->checked_at = scol_int(s, 3);
	}
	store_done(s);
	return rc == SS_ROW ? 1 : rc == SS_DONE ? 0 : -1;
}

/* A statement about one model: $1 the provider, $2 the model. */
static struct sstmt *
about(enum query id, const char *provider, const char *model)
{
	struct sstmt *s = prepare(id);
	if (s != NULL) {
		sbind_text(s, 1, provider);
		sbind_text(s, 2, model);
	}
	return s;
}

/* 0 with *row filled (all zero for a model never seen), -1 on error. */
int
store_model_get(const char *provider, const char *model, struct model_row *row)
{
	struct sstmt *s = about(Q_MODEL_GET, provider, model);
	if (s == NULL)
		return -1;
	enum sstep rc = store_next(s, queries[Q_MODEL_GET].what);
	if (rc == SS_ROW) {
		row->retired_at = scol_int(s, 0);
		scol_copy(s, 1, row->retired_kind, sizeof(row->retired_kind));
		scol_copy(s, 2, row->retired_reason, sizeof(row->retired_reason));
		scol_copy(s, 3, row->stage, sizeof(row->stage));
		row->retires_at = scol_int(s, 4);
		row->made_images = (int)scol_int(s, 5);
	}
	store_done(s);
	return rc == SS_ROW ? 0 : -1;
}

/* 1 when this call marked it, 0 when it was marked already, -1 on error. */
int
store_model_retire(const char *provider, const char *model, const char *kind,
    const char *reason, int64_t now)
{
	struct sstmt *s = about(Q_MODEL_RETIRE, provider, model);
	if (s == NULL)
		return -1;
	sbind_int(s, 3, now);
	sbind_text(s, 4, kind);
	sbind_text(s, 5, reason);
	return store_exec_changed(s, queries[Q_MODEL_RETIRE].what);
}

/* 1 when it was marked retired and is no more, 0 when it was not, -1 on error. */
int
store_model_clear(const char *provider, const char *model)
{
	struct sstmt *s = about(Q_MODEL_CLEAR, provider, model);
	return s == NULL ? -1 : store_exec_changed(s, queries[Q_MODEL_CLEAR].what);
}

/* stage "" and retires_at 0 when the provider announces nothing. */
int
store_model_note(const char *provider, const char *model, const char *stage,
    int64_t retires_at, int64_t now)
{
	struct sstmt *s = about(Q_MODEL_NOTE, provider, model);
	if (s == NULL)
		return -1;
	if (*stage != '\0')
		sbind_text(s, 3, stage);
	sbind_known(s, 4, retires_at > 0 ? (long)retires_at : -1);
	sbind_int(s, 5, now);
	return store_exec_done(s, queries[Q_MODEL_NOTE].what);
}

/*
 * store_dispatch.c: the dispatch tables (migrations 16 and 17). A state host keeps
 * one row per dispatched job, with the current dispatch id that fences
 * every update; a worker host keeps the dispatch id its local job runs
 * under and the images the state host has acknowledged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_dispatch.h"

enum query {
	Q_NEW, Q_CURRENT, Q_TO_SEND, Q_SENT, Q_FAILED, Q_HEARD, Q_HOST, Q_DUE, Q_REDISPATCH,
	Q_RECEIVE, Q_LOCAL, Q_HANDED, Q_HAND, Q_PATH, Q_FENCE, Q_FENCED,
	Q_CLEAR, Q_COUNT_UPDATE, Q_REAPER_LAST, Q_REAPER_RUN, Q_GRACE, Q_CLAIM, Q_BUSY, Q_AGAIN, Q_WITHDRAW,
	Q_COUNT
};

/* A fresh id each dispatch: the case, the generation, 64 random bits. */
#define NEW_ID "?1 || '.' || lower(hex(randomblob(8)))"

static const char *const sql[Q_COUNT] = {
	[Q_NEW] =
	    "INSERT INTO dispatches (case_id, dispatch_id, state, next_at)"
	    " VALUES (?1, " NEW_ID ", 'queued', ?2) ON CONFLICT DO NOTHING",
	[Q_CURRENT] = "SELECT dispatch_id = ?2 FROM dispatches WHERE case_id = ?1",
	[Q_TO_SEND] = "SELECT dispatch_id FROM dispatches WHERE case_id = ?1 AND state = 'queued'",
	[Q_SENT] =
	    "UPDATE dispatches SET state = 'sent', sent_at = ?3, heard_at = ?3, attempts = 0,"
	    " next_at = NULL, last_error = NULL, worker_host = ?4"
	    " WHERE case_id = ?1 AND dispatch_id = ?2 AND state = 'queued'",
	/* Backoff: 1 s, 2 s, 4 s ... up to 60 s between attempts at a pool that refuses. */
	[Q_FAILED] =
	    "UPDATE dispatches SET attempts = attempts + 1, last_error = ?3,"
	    " next_at = ?4 + 1000 * min(60, 1 << min(attempts, 6))"
	    " WHERE case_id = ?1 AND dispatch_id = ?2 AND state = 'queued'"
	    " RETURNING next_at",
	[Q_HEARD] =
	    "UPDATE dispatches SET heard_at = ?4, worker_host = ?3,"
	    " state = CASE WHEN ?5 THEN 'done' ELSE state END"
	    " WHERE case_id = ?1 AND dispatch_id = ?2",
	[Q_HOST] =
	    "UPDATE images SET worker_host = ?2 WHERE case_id = ?1 AND status = 'completed'"
	    " AND worker_host IS NULL",
	/*
	 * What the reaper must do: dispatches due again, and, past what
	 * dispatch_max_jobs leaves busy, those sent and silent for stale_after
	 * on a worker host silent as long: a job waiting in a live host's
	 * queue has no worker to beat for it (migration 18).
	 */
	[Q_DUE] =
	    "SELECT d.case_id, d.state = 'sent' FROM dispatches d JOIN jobs j USING (case_id)"
	    " WHERE j.status IN ('pending', 'generating') AND ("
	    "  (d.state = 'queued' AND d.next_at <= ?1 AND (SELECT count(*) FROM dispatches s"
	    "    WHERE s.state = 'sent') < ?3)"
	    "  OR (d.state = 'sent' AND d.heard_at < ?2 AND NOT EXISTS (SELECT 1"
	    "    FROM dispatch_updates u WHERE u.worker_host = d.worker_host"
	    "    AND u.heard_at >= ?2)))"
	    " ORDER BY coalesce(d.next_at, d.heard_at) LIMIT 64",
	[Q_REDISPATCH] =
	    "UPDATE dispatches SET dispatch_id = " NEW_ID ", state = 'queued',"
	    " generation = generation + 1, attempts = 0, next_at = ?2"
	    " WHERE case_id = ?1 AND state = 'sent' AND heard_at < ?3 AND NOT EXISTS (SELECT 1"
	    "  FROM dispatch_updates u WHERE u.worker_host = dispatches.worker_host"
	    "  AND u.heard_at >= ?3)",
	[Q_RECEIVE] =
	    "INSERT INTO dispatch_jobs (case_id, dispatch_id, received_at) VALUES (?1, ?2, ?3)",
	[Q_LOCAL] = "SELECT dispatch_id FROM dispatch_jobs WHERE case_id = ?1",
	[Q_HANDED] = "SELECT 1 FROM dispatch_handed WHERE case_id = ?1 AND item_id = ?2",
	[Q_HAND] =
	    "INSERT INTO dispatch_handed (case_id, item_id, handed_at) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT DO NOTHING",
	[Q_PATH] = "SELECT path FROM images WHERE case_id = ?1 AND item_id = ?2",
	[Q_FENCED] = "SELECT 1 FROM dispatch_jobs WHERE case_id = ?1 AND fenced_at IS NOT NULL",
	[Q_FENCE] =
	    "UPDATE dispatch_jobs SET fenced_at = coalesce(fenced_at, ?2) WHERE case_id = ?1",
	/* A job dispatched again to this host: the old local one goes, if it is over. */
	[Q_CLEAR] =
	    "DELETE FROM jobs WHERE case_id = ?1 AND status IN ('completed', 'partial', 'failed')",
	[Q_COUNT_UPDATE] =
	    "INSERT INTO dispatch_updates (worker_host, applied, fenced, heard_at)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (worker_host) DO UPDATE"
	    " SET applied = applied + ?2, fenced = fenced + ?3, heard_at = ?4",
	[Q_REAPER_LAST] = "SELECT last_run FROM dispatch_reaper WHERE id = 1",
	[Q_REAPER_RUN] = "UPDATE dispatch_reaper SET last_run = ?1 WHERE id = 1",
	[Q_GRACE] = "UPDATE dispatches SET heard_at = ?1 WHERE state = 'sent' AND heard_at < ?1",
	/*
	 * A queued dispatch due is one sender's: the others see it due later.
	 * Only while fewer than dispatch_max_jobs (?4) are at work: sent, or
	 * claimed and being sent (queued, untried, due later: the lease).
	 */
	[Q_CLAIM] =
	    "UPDATE dispatches SET next_at = ?3 WHERE case_id = ?1 AND state = 'queued'"
	    " AND next_at <= ?2 AND (SELECT count(*) FROM dispatches s WHERE s.state = 'sent'"
	    "  OR (s.state = 'queued' AND s.attempts = 0 AND s.next_at > ?2)) < ?4"
	    " RETURNING dispatch_id",
	[Q_BUSY] = "SELECT count(*) FROM dispatches WHERE state = 'sent'",
	/* A retry: a new dispatch of the images to make again; the old id is fenced. */
	[Q_AGAIN] =
	    "UPDATE dispatches SET dispatch_id = " NEW_ID ", state = 'queued',"
	    " generation = generation + 1, attempts = 0, next_at = ?2, last_error = NULL"
	    " WHERE case_id = ?1",
	/* A cancel: the worker host's dispatch is fenced; the job ends on this host. */
	[Q_WITHDRAW] =
	    "UPDATE dispatches SET dispatch_id = " NEW_ID ", state = 'done' WHERE case_id = ?1",
};

/* The metrics', on whichever connection serves the request (the reader's). */
enum mquery { M_DISPATCHES, M_HOSTS, M_IMAGE_HOST, M_COUNT };
static const char *const msql[M_COUNT] = {
	[M_DISPATCHES] =
	    "SELECT coalesce(sum(generation), 0), coalesce(sum(generation - 1), 0),"
	    " count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'sent')"
	    " FROM dispatches",
	[M_HOSTS] =
	    "SELECT u.worker_host, u.applied, u.fenced, (SELECT count(*) FROM images i"
	    "  WHERE i.worker_host = u.worker_host) FROM dispatch_updates u"
	    " ORDER BY u.worker_host LIMIT " DISPATCH_HOSTS_MAX_S,
	[M_IMAGE_HOST] =
	    "SELECT worker_host FROM images WHERE case_id = ?1 AND item_id = ?2"
	    " AND worker_host IS NOT NULL",
};
static sqlite3_stmt *mstmts[M_COUNT][2];

static sqlite3_stmt *stmts[Q_COUNT];

static sqlite3_stmt *
query(enum query id)
{
	return store_statement(&stmts[id], sql[id], sql[id]);
}

static void
done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static int
bind2(sqlite3_stmt *s, const char *a, const char *b)
{
	sqlite3_bind_text(s, 1, a, -1, SQLITE_TRANSIENT);
	if (b != NULL)
		sqlite3_bind_text(s, 2, b, -1, SQLITE_TRANSIENT);
	return 0;
}

/* One row's first column as text into out (NULL: only whether there is a row). */
static int
one_text(enum query id, const char *a, const char *b, char *out, size_t len)
{
	sqlite3_stmt *s = query(id);
	if (s == NULL)
		return -1;
	bind2(s, a, b);
	int rc = sqlite3_step(s), found = rc == SQLITE_ROW;
	if (found && out != NULL)
		snprintf(out, len, "%s", sqlite3_column_text(s, 0) ?
		    (const char *)sqlite3_column_text(s, 0) : "");
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_error("store: case %s: %s: %s", a, sql[id], sqlite3_errmsg(store_handle()));
		found = -1;
	}
	done(s);
	return found;
}

/* A statement of the case's row at a time: ?1 the case, ?2 now. */
static int
case_at(enum query id, const char *case_id, int64_t now, const char *what)
{
	sqlite3_stmt *s = query(id);
	if (s == NULL)
		return -1;
	bind2(s, case_id, NULL);
	sqlite3_bind_int64(s, 2, now);
	return store_step(s, what);
}

int
store_dispatch_new(const char *case_id, int64_t now)
{
	return case_at(Q_NEW, case_id, now, "new dispatch");
}

/* 1 when dispatch_id is the job's current dispatch, 0 when not, 2 for no dispatch, -1. */
int
store_dispatch_current(const char *case_id, const char *dispatch_id)
{
	char same[4];
	int rc = one_text(Q_CURRENT, case_id, dispatch_id ? dispatch_id : "", same, sizeof(same));
	return rc <= 0 ? (rc == 0 ? 2 : -1) : strcmp(same, "1") == 0;
}

int
store_dispatch_to_send(const char *case_id, char id[DISPATCH_ID_MAX])
{
	return one_text(Q_TO_SEND, case_id, NULL, id, DISPATCH_ID_MAX);
}

/* Takes a queued dispatch that is due, until lease_until: 1 with its id, 0 if not due, -1. */
int
store_dispatch_claim(const char *case_id, int64_t now, int64_t lease_until, long max_jobs,
    char id[DISPATCH_ID_MAX])
{
	sqlite3_stmt *s = query(Q_CLAIM);
	if (s == NULL)
		return -1;
	bind2(s, case_id, NULL);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, lease_until);
	sqlite3_bind_int64(s, 4, max_jobs);
	int rc = sqlite3_step(s), found = rc == SQLITE_ROW;
	if (found)
		snprintf(id, DISPATCH_ID_MAX, "%s", sqlite3_column_text(s, 0));
	if (found)
		rc = sqlite3_step(s);
	done(s);
	if (rc != SQLITE_DONE) {
		log_error("store: case %s: claim dispatch: %s", case_id,
		    sqlite3_errmsg(store_handle()));
		return -1;
	}
	return found;
}

/* A new dispatch id for the job, queued until next_at (retry): 1, 0 for no dispatch, -1. */
int
store_dispatch_again(const char *case_id, int64_t next_at)
{
	sqlite3_stmt *s = query(Q_AGAIN);
	if (s == NULL)
		return -1;
	bind2(s, case_id, NULL);
	sqlite3_bind_int64(s, 2, next_at);
	if (store_step(s, "dispatch again") != 0)
		return -1;
	return sqlite3_changes(store_handle());
}

/* Fences the job's dispatch for good (cancel): 1, 0 for no dispatch, -1. */
int
store_dispatch_withdraw(const char *case_id)
{
	sqlite3_stmt *s = query(Q_WITHDRAW);
	if (s == NULL)
		return -1;
	bind2(s, case_id, NULL);
	if (store_step(s, "withdraw dispatch") != 0)
		return -1;
	return sqlite3_changes(store_handle());
}

/* Dispatches sent and not finished: what dispatch_max_jobs caps. */
int64_t
store_dispatch_busy(void)
{
	sqlite3_stmt *s = query(Q_BUSY);
	if (s == NULL)
		return -1;
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	done(s);
	return n;
}

static int
update3(enum query q, const char *case_id, const char *dispatch_id, int64_t now)
{
	sqlite3_stmt *s = query(q);
	if (s == NULL)
		return -1;
	bind2(s, case_id, dispatch_id);
	sqlite3_bind_int64(s, 3, now);
	if (store_step(s, sql[q]) != 0)
		return -1;
	return sqlite3_changes(store_handle());
}

/* Taken by host ("" when its answer did not say). */
int
store_dispatch_sent(const char *case_id, const char *dispatch_id, const char *host,
    int64_t now)
{
	sqlite3_stmt *s = query(Q_SENT);
	if (s == NULL)
		return -1;
	bind2(s, case_id, dispatch_id);
	sqlite3_bind_int64(s, 3, now);
	if (*host != '\0')
		sqlite3_bind_text(s, 4, host, -1, SQLITE_TRANSIENT);
	return store_step(s, "dispatch sent");
}

int
store_dispatch_failed(const char *case_id, const char *dispatch_id, const char *error,
    int64_t now, int64_t *next_at)
{
	sqlite3_stmt *s = query(Q_FAILED);
	if (s == NULL)
		return -1;
	bind2(s, case_id, dispatch_id);
	sqlite3_bind_text(s, 3, error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, now);
	int rc = sqlite3_step(s);
	*next_at = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(s);
	done(s);
	if (rc != SQLITE_DONE) {
		log_error("store: case %s: dispatch failed: %s", case_id,
		    sqlite3_errmsg(store_handle()));
		return -1;
	}
	return 0;
}

/* An accepted update of the current dispatch: its host, and the images it made. */
int
store_dispatch_heard(const char *case_id, const char *dispatch_id, const char *host,
    int final, int64_t now)
{
	sqlite3_stmt *s = query(Q_HEARD), *h = query(Q_HOST);
	if (s == NULL || h == NULL)
		return -1;
	bind2(s, case_id, dispatch_id);
	sqlite3_bind_text(s, 3, host, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_int(s, 5, final);
	bind2(h, case_id, host);
	return store_step(s, "dispatch heard") != 0 || store_step(h, "image host") != 0 ? -1 : 0;
}

/*
 * The reaper is here: after a gap of more than stale_ms since it last was
 * (the state host was down), every dispatch sent gets stale_ms afresh.
 * Returns the number of dispatches given that grace, or -1.
 */
int
store_dispatch_reaper_here(int64_t now, int64_t stale_ms)
{
	sqlite3_stmt *l = query(Q_REAPER_LAST), *r = query(Q_REAPER_RUN), *g = query(Q_GRACE);
	if (l == NULL || r == NULL || g == NULL)
		return -1;
	int rc = sqlite3_step(l);
	int64_t last = rc == SQLITE_ROW ? sqlite3_column_int64(l, 0) : now;
	done(l);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	sqlite3_bind_int64(r, 1, now);
	if (store_step(r, "dispatch reaper run") != 0)
		return -1;
	if (now - last <= stale_ms)
		return 0;
	sqlite3_bind_int64(g, 1, now);
	if (store_step(g, "dispatch grace") != 0)
		return -1;
	return sqlite3_changes(store_handle());
}

/*
 * Calls fn for each dispatch the reaper must send: queued and due, or sent
 * and silent since stale_ms ago, which first gets a new dispatch id.
 */
int
store_dispatch_each_due(int64_t now, int64_t stale_ms, long max_jobs,
    int (*fn)(const char *case_id, int redispatched, void *arg), void *arg)
{
	char ids[64][65];
	int stale[64], n = 0, rc;
	sqlite3_stmt *s = query(Q_DUE), *r = query(Q_REDISPATCH);
	if (s == NULL || r == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, now - stale_ms);
	sqlite3_bind_int64(s, 3, max_jobs);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < 64) {
		snprintf(ids[n], sizeof(ids[n]), "%s", sqlite3_column_text(s, 0));
		stale[n++] = sqlite3_column_int(s, 1);
	}
	done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	for (int i = 0; i < n; i++) {
		if (stale[i]) {
			bind2(r, ids[i], NULL);
			sqlite3_bind_int64(r, 2, now);
			sqlite3_bind_int64(r, 3, now - stale_ms);
			if (store_step(r, "redispatch") != 0)
				return -1;
			if (sqlite3_changes(store_handle()) != 1)
				continue;	/* another reaper took it */
		}
		if (fn(ids[i], stale[i], arg) != 0)
			break;
	}
	return n;
}

int
store_dispatch_receive(const char *case_id, const char *dispatch_id, int64_t now)
{
	return update3(Q_RECEIVE, case_id, dispatch_id, now) == 1 ? 0 : -1;
}

/* The dispatch a local job runs under: 1 with id, 0 for a job of this host's own, -1. */
int
store_dispatch_local(const char *case_id, char id[DISPATCH_ID_MAX])
{
	return one_text(Q_LOCAL, case_id, NULL, id, DISPATCH_ID_MAX);
}

int
store_dispatch_is_handed(const char *case_id, const char *item_id)
{
	return one_text(Q_HANDED, case_id, item_id, NULL, 0);
}

/* Marks an image acknowledged; *path (the caller frees it) is its local file. */
int
store_dispatch_hand(const char *case_id, const char *item_id, int64_t now, char **path)
{
	char p[4096];
	*path = NULL;
	if (update3(Q_HAND, case_id, item_id, now) < 0)
		return -1;
	if (one_text(Q_PATH, case_id, item_id, p, sizeof(p)) == 1 && *p != '\0')
		*path = strdup(p);
	return 0;
}

int
store_dispatch_fence(const char *case_id, int64_t now)
{
	return case_at(Q_FENCE, case_id, now, "fence dispatch");
}

int
store_dispatch_fenced(const char *case_id)
{
	return one_text(Q_FENCED, case_id, NULL, NULL, 0);
}

/*
 * 1 when a finished local job of the case was removed. A fenced job that
 * is still stopping stays (the new dispatch is refused until it is over):
 * its worker must not write into the new job's rows and files.
 */
int
store_dispatch_clear_finished(const char *case_id)
{
	sqlite3_stmt *s = query(Q_CLEAR);
	if (s == NULL)
		return -1;
	bind2(s, case_id, NULL);
	if (store_step(s, "clear old dispatch") != 0)
		return -1;
	return sqlite3_changes(store_handle()) > 0;
}

/* Counts an update of a worker host: applied, or fenced (409). */
int
store_dispatch_count(const char *host, int fenced, int64_t now)
{
	sqlite3_stmt *s = query(Q_COUNT_UPDATE);
	if (s == NULL)
		return -1;
	bind2(s, host, NULL);
	sqlite3_bind_int(s, 2, !fenced);
	sqlite3_bind_int(s, 3, fenced);
	sqlite3_bind_int64(s, 4, now);
	return store_step(s, "count update");
}

int
store_dispatch_metrics(struct dispatch_metrics *m)
{
	sqlite3_stmt *d = store_statement_here(mstmts[M_DISPATCHES], msql[M_DISPATCHES],
	    "dispatch metrics");
	sqlite3_stmt *h = store_statement_here(mstmts[M_HOSTS], msql[M_HOSTS], "host metrics");
	memset(m, 0, sizeof(*m));
	if (d == NULL || h == NULL)
		return -1;
	int rc = sqlite3_step(d);
	if (rc == SQLITE_ROW) {
		m->dispatches = sqlite3_column_int64(d, 0);
		m->redispatches = sqlite3_column_int64(d, 1);
		m->queued = sqlite3_column_int64(d, 2);
		m->sent = sqlite3_column_int64(d, 3);
	}
	done(d);
	while (rc == SQLITE_ROW && (rc = sqlite3_step(h)) == SQLITE_ROW &&
	    m->n_hosts < DISPATCH_HOSTS_MAX) {
		struct dispatch_host_metrics *x = &m->hosts[m->n_hosts++];
		snprintf(x->host, sizeof(x->host), "%s", sqlite3_column_text(h, 0));
		x->applied = sqlite3_column_int64(h, 1);
		x->fenced = sqlite3_column_int64(h, 2);
		x->images = sqlite3_column_int64(h, 3);
	}
	done(h);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_error("store: dispatch metrics: %s", sqlite3_errmsg(store_handle()));
		return -1;
	}
	return 0;
}

/* The worker host that made an image, on the request's connection: 1, 0 for none, -1. */
int
store_dispatch_image_host(const char *case_id, const char *item_id, char *host, size_t len)
{
	sqlite3_stmt *s = store_statement_here(mstmts[M_IMAGE_HOST], msql[M_IMAGE_HOST],
	    "image host");
	if (s == NULL)
		return -1;
	bind2(s, case_id, item_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(host, len, "%s", sqlite3_column_text(s, 0));
	done(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void
store_dispatch_close(void)
{
	for (int i = 0; i < Q_COUNT; i++) {
		sqlite3_finalize(stmts[i]);
		stmts[i] = NULL;
	}
	for (int i = 0; i < M_COUNT; i++)
		for (int c = 0; c < 2; c++) {
			sqlite3_finalize(mstmts[i][c]);
			mstmts[i][c] = NULL;
		}
}

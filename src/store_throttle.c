/*
 * store_throttle.c: what throttle.c counts on, kept where every worker
 * sees it: the calls of the last minute to each provider (api_calls), and
 * the slots of max_inflight. With SQLite a slot is a byte of
 * "{database}.{provider}.slots" locked with fcntl; with PostgreSQL it is a
 * session's advisory lock, shared by every host. Either way a dead worker's
 * slot is freed by its death: the kernel drops its locks, the server its
 * session's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_int.h"

#define RATE_WINDOW_MS 61000

static const char RATE_COUNT[] =
    "SELECT count(*), min(at) FROM api_calls WHERE provider = $2 AND at > $1";
static const char RATE_ADD[] = "INSERT INTO api_calls (at, case_id, provider) VALUES ($1, $2, $3)";
static const char RATE_PRUNE[] = "DELETE FROM api_calls WHERE at <= $1";
/* Every host counts the same calls: one counter at a time, for the transaction. */
static const char RATE_LOCK[] =
    "SELECT pg_advisory_xact_lock(hashtext('imagegen api_calls ' || $1))";
/*
 * The first free slot, locked, in one round trip: the scan stops at the
 * first lock it gets. A slot this session holds is passed over ($3), and
 * CASE, which SQL evaluates in order, keeps it from being locked again (a
 * session's advisory locks are reentrant).
 */
static const char SLOT_TAKE[] =
    "SELECT s FROM generate_series(0, CAST($2 AS INTEGER) - 1) AS s"
    " WHERE CASE WHEN s = ANY (CAST($3 AS INTEGER[])) THEN false"
    " ELSE pg_try_advisory_lock(hashtext('imagegen slots ' || $1), s) END LIMIT 1";
static const char SLOT_FREE[] =
    "SELECT pg_advisory_unlock(hashtext('imagegen slots ' || $1), CAST($2 AS INTEGER))";

static int
rate_count(const char *provider, int64_t since, int *count, int64_t *oldest)
{
	struct sstmt *s = store_stmt(RATE_COUNT);
	if (s == NULL)
		return -1;
	sbind_int(s, 1, since);
	sbind_text(s, 2, provider);
	enum sstep rc = store_next(s, "count api calls");
	*count = rc == SS_ROW ? (int)scol_int(s, 0) : 0;
	*oldest = rc == SS_ROW ? scol_int(s, 1) : 0;
	store_done(s);
	return rc == SS_ROW ? 0 : -1;
}

static int
rate_lock(const char *provider)
{
	struct sstmt *s;
	if (!store_is_pg())
		return 0;	/* BEGIN IMMEDIATE took the one write lock */
	if ((s = store_stmt(RATE_LOCK)) == NULL)
		return -1;
	sbind_text(s, 1, provider);
	return store_exec_done(s, "lock the api call count");
}

static int
rate_add(const char *case_id, const char *provider, int64_t now)
{
	struct sstmt *s = store_stmt(RATE_ADD);
	if (s == NULL)
		return -1;
	sbind_int(s, 1, now);
	sbind_text(s, 2, case_id);
	sbind_text(s, 3, provider);
	return store_exec_done(s, "record api call");
}

/*
 * A sliding window over the last minute, shared by every worker: returns 1
 * and records the call if one more fits, else 0 with the time the oldest
 * call leaves the window in *retry_at. The window is a second longer than
 * a minute: a call reaches the API a little after it is counted here, and
 * by varying delays, so the API's own minute must still see no more.
 */
int
store_rate_take(const char *case_id, const char *provider, long per_minute, int64_t now,
    int64_t *retry_at)
{
	struct sstmt *prune = store_stmt(RATE_PRUNE);
	int count, granted = 0;
	int64_t oldest;
	if (prune == NULL || store_begin() != 0)
		return -1;
	sbind_int(prune, 1, now - RATE_WINDOW_MS);
	if (rate_lock(provider) != 0 || store_exec_done(prune, "prune api calls") != 0 ||
	    rate_count(provider, now - RATE_WINDOW_MS, &count, &oldest) != 0)
		goto fail;
	if (count < per_minute) {
		if (rate_add(case_id, provider, now) != 0)
			goto fail;
		granted = 1;
	} else {
		*retry_at = oldest + RATE_WINDOW_MS + 1;
	}
	if (store_commit() != 0)
		goto fail;
	return granted;
fail:
	store_rollback();
	return -1;
}

/* One provider's slots: a file's bytes (SQLite), or advisory locks (PostgreSQL). */
struct store_slots {
	char provider[32];
	int fd;
};

struct store_slots *
store_slots_open(const char *database, const char *provider)
{
	char path[4200];
	struct store_slots *sl = calloc(1, sizeof(*sl));
	if (sl == NULL)
		return NULL;
	snprintf(sl->provider, sizeof(sl->provider), "%s", provider);
	sl->fd = -1;
	if (store_is_pg())
		return sl;
	snprintf(path, sizeof(path), "%s.%s.slots", database, provider);
	if ((sl->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		log_error("throttle: open %s: %s", path, strerror(errno));
		free(sl);
		return NULL;
	}
	return sl;
}

static int
lock_byte(int fd, int slot, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = slot, .l_len = 1 };
	return fcntl(fd, F_SETLK, &fl);
}

/* An advisory lock's call, yielding its boolean: 1, 0, or -1 when the server is away. */
static int
advisory(const char *sql, const char *provider, int slot)
{
	struct sstmt *s = store_stmt(sql);
	if (s == NULL)
		return -1;
	int64_t got;
	sbind_text(s, 1, provider);
	sbind_int(s, 2, slot);
	return store_scalar(s, "a slot's lock", &got) == 1 ? (int)got : -1;
}

/* The slots held, as PostgreSQL's array text: {0,3,7}. */
static void
held_list(const unsigned char *held, int n, char *out, size_t len)
{
	size_t o = (size_t)snprintf(out, len, "{");
	for (int i = 0; i < n && o < len; i++)
		if (held[i])
			o += (size_t)snprintf(out + o, len - o, "%s%d", o > 1 ? "," : "", i);
	if (o < len)
		snprintf(out + o, len - o, "}");
}

/*
 * One of the n slots that this process does not hold already (held[]),
 * now this process's: its number, -1 when every slot is taken, -2 on error.
 */
int
store_slot_take(struct store_slots *sl, int n, const unsigned char *held)
{
	char list[8192];
	int64_t slot;
	struct sstmt *s;
	for (int i = 0; sl->fd >= 0 && i < n; i++)
		if (!held[i] && lock_byte(sl->fd, i, F_WRLCK) == 0)
			return i;
	if (sl->fd >= 0)
		return -1;
	if ((s = store_stmt(SLOT_TAKE)) == NULL)
		return -2;
	held_list(held, n, list, sizeof(list));
	sbind_text(s, 1, sl->provider);
	sbind_int(s, 2, n);
	sbind_text(s, 3, list);
	int rc = store_scalar(s, "take a slot", &slot);
	return rc == 1 ? (int)slot : rc == 0 ? -1 : -2;
}

void
store_slot_free(struct store_slots *sl, int slot)
{
	if (sl->fd >= 0 ? lock_byte(sl->fd, slot, F_UNLCK) != 0 :
	    advisory(SLOT_FREE, sl->provider, slot) != 1)
		log_error("throttle: %s: cannot free slot %d", sl->provider, slot);
}

void
store_slots_close(struct store_slots *sl)
{
	if (sl == NULL)
		return;
	if (sl->fd >= 0)
		close(sl->fd);
	free(sl);
}

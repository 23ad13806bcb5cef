/*
 * throttle.c: many cases at once must not overload an image provider. A
 * request needs one of max_inflight slots (store_throttle.c: a dead
 * worker's are freed by its death, so a crash never leaks one), then a
 * place in the last minute's rate_limit, kept in the store so that every
 * worker, on every host that shares it, counts the same calls. Each
 * provider has its own quota, so its own slots and its own count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "throttle.h"
#include "log.h"
#include "store.h"
#include "store_health.h"

#define SLOT_POLL_MS 50		/* how soon to try again when every slot is taken */
#define COUNT_RETRY_MS 1000	/* ... and when the call cannot be counted */

struct throttle {
	const struct config *cfg;
	const char *provider;	/* a provider table's name: static */
	struct store_slots *slots;
	unsigned char *held;	/* a process may lock its own byte again: we must know */
	int64_t waiting_since;	/* the first refusal of the wait under way, 0 if none */
	int wait_logged;
	int count_failed;	/* the last call could not be counted: said */
};

/*
 * A wait of over a second is logged at info, once when it is seen to be
 * long and once when it ends: a minute without a request is no mystery.
 */
static void
note_wait(struct throttle *l, const char *case_id, int64_t now, int64_t retry_at,
    int rate)
{
	if (l->waiting_since == 0)
		l->waiting_since = now;
	if (l->wait_logged || retry_at - l->waiting_since <= 1000)
		return;
	l->wait_logged = 1;
	if (rate)
		log_info("case %s: throttle: rate_limit of %ld requests a minute reached;"
		    " waiting %lld ms", case_id, l->cfg->rate_limit,
		    (long long)(retry_at - now));
	else
		log_info("case %s: throttle: max_inflight of %ld requests in flight reached;"
		    " waiting for a place", case_id, l->cfg->max_inflight);
}

static void
end_wait(struct throttle *l, const char *case_id, int64_t now)
{
	if (l->wait_logged)
		log_info("case %s: throttle: waited %lld ms for the image API", case_id,
		    (long long)(now - l->waiting_since));
	l->waiting_since = 0;
	l->wait_logged = 0;
}

struct throttle *
throttle_open(const struct config *cfg, const char *provider)
{
	struct throttle *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->cfg = cfg;
	l->provider = provider;
	l->held = calloc((size_t)cfg->max_inflight, 1);
	l->slots = store_slots_open(cfg->database, provider);
	if (l->slots == NULL || l->held == NULL) {
		store_slots_close(l->slots);
		free(l->held);
		free(l);
		return NULL;
	}
	return l;
}

static int
take_slot(struct throttle *l)
{
	int i = store_slot_take(l->slots, (int)l->cfg->max_inflight, l->held);
	if (i >= 0)
		l->held[i] = 1;
	return i < 0 ? -1 : i;
}

/*
 * A call that cannot be counted does not start: every worker of the host
 * would then pass rate_limit, and the provider's quota with it. Said once
 * a wait, unless the store has said why already (a file that takes no write).
 */
static void
count_failed(struct throttle *l, const char *case_id, int64_t now, int64_t *retry_at)
{
	*retry_at = now + COUNT_RETRY_MS;
	if (!l->count_failed && store_health_write_fault() == NULL)
		log_error("case %s: throttle: the call cannot be counted against rate_limit;"
		    " none starts until it can", case_id);
	l->count_failed = 1;
}

/* Returns a slot for one request, or -1 with *retry_at the time to ask again. */
int
throttle_acquire(struct throttle *l, const char *case_id, int64_t now, int64_t *retry_at)
{
	int slot = take_slot(l);
	if (slot < 0) {
		*retry_at = now + SLOT_POLL_MS;
		note_wait(l, case_id, now, *retry_at, 0);
		return -1;
	}
	int rc = store_rate_take(case_id, l->provider, l->cfg->rate_limit, now, retry_at);
	if (rc <= 0) {
		throttle_release(l, slot);
		if (rc == 0)
			note_wait(l, case_id, now, *retry_at, 1);
		else
			count_failed(l, case_id, now, retry_at);
		return -1;
	}
	l->count_failed = 0;
	end_wait(l, case_id, now);
	return slot;
}

void
throttle_release(struct throttle *l, int slot)
{
	if (l == NULL || slot < 0)
		return;
	l->held[slot] = 0;
	store_slot_free(l->slots, slot);
}

void
throttle_close(struct throttle *l)
{
	if (l == NULL)
		return;
	store_slots_close(l->slots);
	free(l->held);
	free(l);
}

/*
 * handover.c: what a worker host adds to the updates of a dispatched job.
 * Each carries the dispatch id, which the state host fences on, and this
 * host's name. Each image's bytes cross the network once: an image goes
 * as a data: URL until an update holding it is acknowledged (2xx); then
 * it is left out of later updates (the state host keeps what it has) and
 * its local file is deleted. A 409 means the state host has dispatched the
 * job again elsewhere: the job is fenced and cancelled here at once, so
 * that no more paid calls are made for it, and its local files go.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "jobjson.h"
#include "log.h"
#include "media.h"
#include "store.h"
#include "store_dispatch.h"
#include "store_outbox.h"
#include "handover.h"

#define RETRY_CAP_MS 5000

/* A worker host: it takes dispatches and makes none. Elsewhere nothing here is looked up. */
static int
worker_host(const struct config *cfg)
{
	return *cfg->dispatch_secret != '\0' && *cfg->dispatch_url == '\0';
}

/* The dispatch a local job runs under: 1 with its id, 0 for none, -1. */
static int
local_dispatch(const struct config *cfg, const char *case_id, char id[DISPATCH_ID_MAX])
{
	return worker_host(cfg) ? store_dispatch_local(case_id, id) : 0;
}

/* 1 with the dispatch id when the local job runs for a state host, 0 when not, -1. */
int
handover_dispatched(const struct config *cfg, const char *case_id, char *id, size_t len)
{
	char d[DISPATCH_ID_MAX];
	int rc = local_dispatch(cfg, case_id, d);
	if (rc == 1)
		snprintf(id, len, "%s", d);
	return rc;
}

void
handover_host_name(const struct config *cfg, char *out, size_t len)
{
	if (*cfg->worker_name != '\0' || gethostname(out, len) != 0)
		snprintf(out, len, "%s", *cfg->worker_name ? cfg->worker_name : "unknown");
	out[len - 1] = '\0';
}

/*
 * One completed image's entry: its bytes inline, or gone once acknowledged,
 * or once the job is fenced (the state host refuses it, and the file is gone).
 */
static int
hand_image(cJSON *map, const char *case_id, const struct image *im, int fenced)
{
	int handed = fenced ? 1 : store_dispatch_is_handed(case_id, im->item_id);
	if (handed < 0)
		return -1;
	if (handed) {
		cJSON_DeleteItemFromObjectCaseSensitive(map, im->item_id);
		return 0;
	}
	char *data = im->path ? jobjson_data_url(im->path) : NULL;
	if (data == NULL)
		return -1;
	cJSON *v = cJSON_CreateString(data);
	free(data);
	return v != NULL && cJSON_ReplaceItemInObjectCaseSensitive(map, im->item_id, v) ? 0 : -1;
}

/* Rewrites a dispatched job's ImageProgressUpdate (built with path URLs) for the state host. */
int
handover_progress(const struct config *cfg, void *update, const char *case_id,
    const char *dispatch_id, const struct image *images, size_t n)
{
	cJSON *o = update;
	cJSON *maps[2] = { cJSON_GetObjectItemCaseSensitive(o, "evidenceImages"),
	    cJSON_GetObjectItemCaseSensitive(o, "locationImages") };
	char host[256];
	int fenced = store_dispatch_fenced(case_id);
	handover_host_name(cfg, host, sizeof(host));
	if (fenced < 0 || maps[0] == NULL || maps[1] == NULL ||
	    !cJSON_AddStringToObject(o, "dispatchId", dispatch_id) ||
	    !cJSON_AddStringToObject(o, "workerHost", host))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(images[i].status, "completed") == 0 && images[i].url != NULL &&
		    hand_image(maps[images[i].kind], case_id, &images[i], fenced) != 0) {
			log_error("case %s: image %s: cannot hand it over", case_id,
			    images[i].item_id);
			return -1;
		}
	return 0;
}

/* The state host has the images of an acknowledged update: this host's copies go. */
static void
acknowledged(const char *case_id, const char *payload, int64_t now)
{
	static const char *const keys[2] = { "evidenceImages", "locationImages" };
	cJSON *o = cJSON_Parse(payload), *el;
	for (int k = 0; o != NULL && k < 2; k++)
		cJSON_ArrayForEach(el, cJSON_GetObjectItemCaseSensitive(o, keys[k])) {
			char *path = NULL;
			if (!cJSON_IsString(el) || strncmp(el->valuestring, "data:", 5) != 0 ||
			    store_dispatch_hand(case_id, el->string, now, &path) != 0)
				continue;
			if (path != NULL && unlink(path) != 0)
				log_warn("case %s: image %s: cannot delete %s once handed over",
				    case_id, el->string, path);
			free(path);
		}
	cJSON_Delete(o);
}

/*
 * Just before an attempt: images acknowledged since the row was written
 * leave it, so that an update built while another was in flight does not
 * send their bytes again. Returns the payload to send: *payload, or a new
 * string that replaces it there (the old one freed).
 */
void
handover_prune(const struct config *cfg, const char *case_id, char **payload)
{
	static const char *const keys[2] = { "evidenceImages", "locationImages" };
	char id[DISPATCH_ID_MAX];
	int pruned = 0;
	if (local_dispatch(cfg, case_id, id) != 1)
		return;
	cJSON *o = cJSON_Parse(*payload), *el, *next;
	for (int k = 0; o != NULL && k < 2; k++) {
		cJSON *map = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
		for (el = map ? map->child : NULL; el != NULL; el = next) {
			next = el->next;
			if (store_dispatch_is_handed(case_id, el->string) == 1) {
				cJSON_Delete(cJSON_DetachItemViaPointer(map, el));
				pruned++;
			}
		}
	}
	char *text = pruned ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (text != NULL) {
		free(*payload);
		*payload = text;
	}
}

/* The dispatch id an update was sent under, in buf, or "". */
static const char *
payload_dispatch(const char *payload, char *buf, size_t len)
{
	cJSON *o = cJSON_Parse(payload);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "dispatchId");
	snprintf(buf, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
	cJSON_Delete(o);
	return buf;
}

/*
 * A fenced job is made elsewhere now: the state host refused its images
 * or has them already, so none of its files is of use here. The worker
 * calls this once it has stopped, for what it wrote after the 409.
 */
void
handover_discard(const struct config *cfg, const char *case_id)
{
	if (!worker_host(cfg) || store_dispatch_fenced(case_id) != 1)
		return;
	int n = media_remove_case(cfg, case_id);
	if (n > 0)
		log_info("case %s: fenced: %d local files deleted", case_id, n);
}

/*
 * After an attempt at an update answered code (0: no answer). Returns 1
 * when the state host fenced this dispatch (409): the row must not be
 * tried again, and the job stops here.
 */
int
handover_answered(const struct config *cfg, const char *case_id, const char *payload,
    long code, int64_t now)
{
	char id[DISPATCH_ID_MAX], sent[DISPATCH_ID_MAX];
	if (local_dispatch(cfg, case_id, id) != 1 ||
	    strcmp(payload_dispatch(payload, sent, sizeof(sent)), id) != 0)
		return 0;
	if (code >= 200 && code < 300) {
		acknowledged(case_id, payload, now);
		return 0;
	}
	if (code != 409)
		return 0;
	log_warn("case %s: the state host refused dispatch %s (409): it was dispatched "
	    "again; stopping", case_id, id);
	(void)store_dispatch_fence(case_id, now);
	(void)store_cancel(case_id, now);
	handover_discard(cfg, case_id);
	return 1;
}

/*
 * An update to a state host is never given up: while the state host is
 * down the worker host keeps it in its outbox, and tries again at least
 * every RETRY_CAP_MS (from the worker, then from `imagegen reap`). Returns
 * 1 for such an update, with *delay capped.
 */
int
handover_retry(const struct config *cfg, const char *case_id, int64_t *delay)
{
	char id[DISPATCH_ID_MAX];
	if (local_dispatch(cfg, case_id, id) != 1)
		return 0;
	if (*delay > RETRY_CAP_MS)
		*delay = RETRY_CAP_MS;
	return 1;
}

/* A dispatched job's heartbeat reaches the state host as an update. */
void
handover_heartbeat(const struct config *cfg, const char *case_id, int64_t now)
{
	char id[DISPATCH_ID_MAX];
	if (local_dispatch(cfg, case_id, id) == 1 &&
	    store_outbox_add(case_id, "progress", now) < 0)
		log_warn("case %s: cannot queue the heartbeat update", case_id);
}

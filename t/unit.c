/*
 * unit.c: C unit tests of the parts of imagegen that need no web server,
 * database or network: request and progress parsing, configuration, the
 * Imagen response, base64 and SHA-256, the job JSON and the image step.
 * Prints TAP through tap.h; one static function per area.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <wand/MagickWand.h>

#include "casereq.h"
#include "codec.h"
#include "decodecost.h"
#include "config.h"
#include "image.h"
#include "imageurl.h"
#include "input.h"
#include "jobjson.h"
#include "progress.h"
#include "provider.h"
#include "shrink.h"
#include "sign.h"
#include "store.h"
#include "tap.h"

/* ---- helpers ---------------------------------------------------------- */

static int
is_hex64(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == 64;
}

/* A string of n copies of c, NUL-terminated; the caller frees it. */
static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	if (s == NULL)
		abort();
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static char *
read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = buf ? fread(buf, 1, 1 << 20, f) : 0;
	fclose(f);
	return buf;
}

static int
write_whole(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	int rc = fputs(text, f) < 0 ? -1 : 0;
	return fclose(f) != 0 ? -1 : rc;
}

/* ---- casereq ---------------------------------------------------------- */

static cJSON *
case_item(const char *prefix, int i)
{
	char id[32], name[64], desc[128];
	snprintf(id, sizeof(id), "%s-%d", prefix, i);
	snprintf(name, sizeof(name), "%s name %d", prefix, i);
	snprintf(desc, sizeof(desc), "The %s number %d, described.", prefix, i);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "description", desc);
	return o;
}

/* {"caseId":"case-1","evidence":[ne items],"locations":[nl items]} */
static cJSON *
case_doc(int ne, int nl)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "caseId", "case-1");
	cJSON *ev = cJSON_AddArrayToObject(root, "evidence");
	cJSON *loc = cJSON_AddArrayToObject(root, "locations");
	for (int i = 0; i < ne; i++)
		cJSON_AddItemToArray(ev, case_item("ev", i));
	for (int i = 0; i < nl; i++)
		cJSON_AddItemToArray(loc, case_item("loc", i));
	return root;
}

static cJSON *
case_at(cJSON *root, const char *list, int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, list), i);
}

static void
set_string(cJSON *obj, const char *key, const char *value)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(value));
	else
		cJSON_AddStringToObject(obj, key, value);
}

static void
set_item(cJSON *obj, const char *key, cJSON *value)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
	else
		cJSON_AddItemToObject(obj, key, value);
}

/* Parses text, which must be rejected naming field. */
static void
reject_text(const struct config *cfg, const char *text, const char *field, const char *what)
{
	struct case_req req;
	struct req_error err;
	int rc = casereq_parse(text, strlen(text), cfg, &req, &err);
	ok(rc == -1, "casereq: rejects %s", what);
	is_str(err.field, field, "casereq: %s names field \"%s\"", what, field);
	ok(err.message[0] != '\0', "casereq: %s has a message (%s)", what, err.message);
	ok(req.items == NULL && req.case_id == NULL && req.n_items == 0,
	    "casereq: %s leaves nothing allocated", what);
	if (rc == 0)
		casereq_free(&req);
}

/* The same, for a document; frees it. */
static void
reject_doc(const struct config *cfg, cJSON *doc, const char *field, const char *what)
{
	char *text = cJSON_PrintUnformatted(doc);
	reject_text(cfg, text, field, what);
	cJSON_free(text);
	cJSON_Delete(doc);
}

/* Parses a document that must be accepted; fills req, frees the document. */
static int
accept_doc(const struct config *cfg, cJSON *doc, struct case_req *req, const char *what)
{
	struct req_error err;
	char *text = cJSON_PrintUnformatted(doc);
	int rc = casereq_parse(text, strlen(text), cfg, req, &err);
	ok(rc == 0, "casereq: accepts %s", what);
	if (rc != 0)
		printf("#   rejected: field \"%s\": %s\n", err.field, err.message);
	cJSON_free(text);
	cJSON_Delete(doc);
	return rc;
}

static void
test_casereq_valid(const struct config *cfg)
{
	struct case_req req, again, other;
	char hash[65];

	if (accept_doc(cfg, case_doc(10, 4), &req, "a 10+4 case") != 0)
		return;
	is_str(req.case_id, "case-1", "casereq: caseId kept");
	ok(req.n_items == 14, "casereq: n_items is 14 (%zu)", req.n_items);
	ok(req.n_evidence == 10, "casereq: n_evidence is 10 (%zu)", req.n_evidence);
	int order = 1;
	for (size_t i = 0; i < req.n_items; i++) {
		char id[32];
		int evidence = i < 10;
		snprintf(id, sizeof(id), "%s-%zu", evidence ? "ev" : "loc", evidence ? i : i - 10);
		if (strcmp(req.items[i].id, id) != 0 ||
		    req.items[i].kind != (evidence ? KIND_EVIDENCE : KIND_LOCATION))
			order = 0;
	}
	ok(order, "casereq: items are evidence in order, then locations in order");
	is_str(req.items[3].name, "ev name 3", "casereq: name kept");
	is_str(req.items[12].description, "The loc number 2, described.",
	    "casereq: description kept");
	ok(req.webhook_url == NULL, "casereq: no webhookUrl gives NULL");
	ok(is_hex64(req.hash), "casereq: hash is 64 hex digits (%s)", req.hash);
	snprintf(hash, sizeof(hash), "%s", req.hash);
	casereq_free(&req);
	ok(req.items == NULL && req.case_id == NULL, "casereq: casereq_free clears the struct");

	if (accept_doc(cfg, case_doc(10, 4), &again, "the same case again") == 0) {
		is_str(again.hash, hash, "casereq: same input, same hash");
		casereq_free(&again);
	}
	cJSON *doc = case_doc(10, 4);
	set_string(case_at(doc, "evidence", 5), "description", "Something else entirely.");
	if (accept_doc(cfg, doc, &other, "a case with one description changed") == 0) {
		ok(strcmp(other.hash, hash) != 0, "casereq: different description, different hash");
		casereq_free(&other);
	}
	doc = case_doc(10, 4);
	set_string(doc, "webhookUrl", "https://example.com/hook");
	if (accept_doc(cfg, doc, &other, "a case with a webhookUrl") == 0) {
		is_str(other.webhook_url, "https://example.com/hook", "casereq: webhookUrl kept");
		ok(strcmp(other.hash, hash) != 0, "casereq: the webhookUrl is part of the hash");
		casereq_free(&other);
	}

	/* Key order, spacing and unknown keys do not change the hash. */
	static const char a[] = "{\"caseId\":\"k\",\"evidence\":[{\"id\":\"e\",\"name\":\"N\","
	    "\"description\":\"D\"}],\"locations\":[{\"id\":\"l\",\"name\":\"M\","
	    "\"description\":\"E\"}]}";
	static const char b[] = "{ \"locations\": [ {\"description\":\"E\", \"name\":\"M\","
	    " \"id\":\"l\"} ],\n \"evidence\": [{\"name\":\"N\",\"description\":\"D\","
	    "\"id\":\"e\"}], \"caseId\": \"k\", \"extra\": [1] }";
	struct req_error err;
	int ra = casereq_parse(a, strlen(a), cfg, &req, &err);
	int rb = casereq_parse(b, strlen(b), cfg, &other, &err);
	ok(ra == 0 && rb == 0, "casereq: both key orders parse");
	if (ra == 0 && rb == 0)
		is_str(other.hash, req.hash, "casereq: key order does not change the hash");
	if (ra == 0)
		casereq_free(&req);
	if (rb == 0)
		casereq_free(&other);

	/* Limits are inclusive: exactly max_name and max_description bytes are fine. */
	doc = case_doc(1, 1);
	char *name = repeat('n', (size_t)cfg->max_name);
	char *desc = repeat('d', (size_t)cfg->max_description);
	set_string(case_at(doc, "evidence", 0), "name", name);
	set_string(case_at(doc, "evidence", 0), "description", desc);
	free(name);
	free(desc);
	if (accept_doc(cfg, doc, &req, "a name and description exactly at their limits") == 0)
		casereq_free(&req);

	doc = case_doc(1, 1);
	set_item(doc, "webhookUrl", cJSON_CreateNull());
	if (accept_doc(cfg, doc, &req, "webhookUrl null") == 0) {
		ok(req.webhook_url == NULL, "casereq: webhookUrl null gives NULL");
		casereq_free(&req);
	}
}

static void
test_casereq_reject(const struct config *cfg)
{
	cJSON *doc;

	reject_text(cfg, "{\"caseId\":", "", "invalid JSON");
	reject_text(cfg, "", "", "an empty body");
	reject_text(cfg, "[1,2]", "", "an array root");
	reject_text(cfg, "\"case\"", "", "a string root");

	doc = case_doc(2, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "caseId");
	reject_doc(cfg, doc, "caseId", "a missing caseId");
	doc = case_doc(2, 1);
	set_item(doc, "caseId", cJSON_CreateNumber(42));
	reject_doc(cfg, doc, "caseId", "a numeric caseId");
	doc = case_doc(2, 1);
	set_string(doc, "caseId", "case 1");
	reject_doc(cfg, doc, "caseId", "a caseId with a space");
	doc = case_doc(2, 1);
	set_string(doc, "caseId", "../case");
	reject_doc(cfg, doc, "caseId", "a caseId with ../");
	doc = case_doc(2, 1);
	set_string(doc, "caseId", "");
	reject_doc(cfg, doc, "caseId", "an empty caseId");
	char *s65 = repeat('c', 65);
	doc = case_doc(2, 1);
	set_string(doc, "caseId", s65);
	reject_doc(cfg, doc, "caseId", "a 65-byte caseId");

	doc = case_doc(2, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "evidence");
	reject_doc(cfg, doc, "evidence", "missing evidence");
	doc = case_doc(2, 1);
	set_item(doc, "evidence", cJSON_CreateObject());
	reject_doc(cfg, doc, "evidence", "evidence as an object");
	doc = case_doc(2, 1);
	set_string(doc, "evidence", "x");
	reject_doc(cfg, doc, "evidence", "evidence as a string");
	doc = case_doc(0, 1);
	reject_doc(cfg, doc, "evidence", "empty evidence");
	doc = case_doc(2, 0);
	reject_doc(cfg, doc, "locations", "empty locations");
	doc = case_doc(2, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "locations");
	reject_doc(cfg, doc, "locations", "missing locations");

	doc = case_doc(3, 1);
	cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(doc, "evidence"), 2,
	    cJSON_CreateString("not an object"));
	reject_doc(cfg, doc, "evidence[2]", "an evidence item that is a string");
	doc = case_doc(2, 2);
	cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(doc, "locations"), 1,
	    cJSON_CreateArray());
	reject_doc(cfg, doc, "locations[1]", "a location item that is an array");

	static const char *const keys[] = { "id", "name", "description" };
	for (int k = 0; k < 3; k++) {
		char field[64], what[64];
		snprintf(field, sizeof(field), "evidence[2].%s", keys[k]);
		snprintf(what, sizeof(what), "a missing %s", keys[k]);
		doc = case_doc(3, 1);
		cJSON_DeleteItemFromObjectCaseSensitive(case_at(doc, "evidence", 2), keys[k]);
		reject_doc(cfg, doc, field, what);
		snprintf(field, sizeof(field), "locations[0].%s", keys[k]);
		snprintf(what, sizeof(what), "a numeric location %s", keys[k]);
		doc = case_doc(3, 1);
		set_item(case_at(doc, "locations", 0), keys[k], cJSON_CreateNumber(7));
		reject_doc(cfg, doc, field, what);
		snprintf(field, sizeof(field), "evidence[1].%s", keys[k]);
		snprintf(what, sizeof(what), "an empty %s", keys[k]);
		doc = case_doc(3, 1);
		set_string(case_at(doc, "evidence", 1), keys[k], "");
		reject_doc(cfg, doc, field, what);
	}

	doc = case_doc(2, 1);
	set_string(case_at(doc, "evidence", 0), "id", "a/b");
	reject_doc(cfg, doc, "evidence[0].id", "an id with a slash");
	doc = case_doc(2, 1);
	set_string(case_at(doc, "evidence", 0), "id", "../etc");
	reject_doc(cfg, doc, "evidence[0].id", "an id of ../etc");
	doc = case_doc(2, 1);
	set_string(case_at(doc, "locations", 0), "id", s65);
	reject_doc(cfg, doc, "locations[0].id", "a 65-byte id");
	free(s65);

	doc = case_doc(3, 1);
	set_string(case_at(doc, "evidence", 2), "id", "ev-0");
	reject_doc(cfg, doc, "evidence[2].id", "a duplicate id within evidence");
	doc = case_doc(3, 2);
	set_string(case_at(doc, "locations", 1), "id", "ev-1");
	reject_doc(cfg, doc, "locations[1].id", "a location id that repeats an evidence id");

	struct config small = *cfg;
	small.max_items = 3;
	reject_doc(&small, case_doc(4, 1), "evidence", "4 evidence items over max_items 3");
	reject_doc(&small, case_doc(3, 4), "locations", "4 locations over max_items 3");
	struct case_req req;
	if (accept_doc(&small, case_doc(3, 3), &req, "3+3 items at max_items 3") == 0)
		casereq_free(&req);

	char *name = repeat('n', (size_t)cfg->max_name + 1);
	doc = case_doc(2, 1);
	set_string(case_at(doc, "evidence", 1), "name", name);
	reject_doc(cfg, doc, "evidence[1].name", "a name one byte over max_name");
	free(name);
	char *desc = repeat('d', (size_t)cfg->max_description + 1);
	doc = case_doc(2, 1);
	set_string(case_at(doc, "locations", 0), "description", desc);
	reject_doc(cfg, doc, "locations[0].description",
	    "a description one byte over max_description");
	free(desc);

	doc = case_doc(2, 1);
	set_item(doc, "webhookUrl", cJSON_CreateNumber(1));
	reject_doc(cfg, doc, "webhookUrl", "a numeric webhookUrl");
	doc = case_doc(2, 1);
	set_item(doc, "webhookUrl", cJSON_CreateObject());
	reject_doc(cfg, doc, "webhookUrl", "an object webhookUrl");
	static const char *const bad_urls[] = { "ftp://x", "not a url", "file:///etc/passwd",
		"javascript:alert(1)", "http://" };
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "webhookUrl \"%s\"", bad_urls[i]);
		doc = case_doc(2, 1);
		set_string(doc, "webhookUrl", bad_urls[i]);
		reject_doc(cfg, doc, "webhookUrl", what);
	}
}

static void
test_casereq_valid_id(void)
{
	char *s64 = repeat('a', 64), *s65 = repeat('a', 65);
	ok(casereq_valid_id(s64) == 1, "casereq_valid_id: 64 characters is fine");
	ok(casereq_valid_id(s65) == 0, "casereq_valid_id: 65 characters is not");
	free(s64);
	free(s65);
	ok(casereq_valid_id("") == 0, "casereq_valid_id: empty is not");
	ok(casereq_valid_id("a") == 1, "casereq_valid_id: one character is fine");
	ok(casereq_valid_id("Az09_-") == 1, "casereq_valid_id: letters, digits, _ and -");
	ok(casereq_valid_id("a/b") == 0, "casereq_valid_id: a/b is not");
	ok(casereq_valid_id("../x") == 0, "casereq_valid_id: ../x is not");
	ok(casereq_valid_id(".") == 0, "casereq_valid_id: . is not");
	ok(casereq_valid_id("a b") == 0, "casereq_valid_id: a space is not");
	ok(casereq_valid_id("caf\xc3\xa9") == 0, "casereq_valid_id: non-ASCII is not");
	is_str(casereq_kind_name(KIND_EVIDENCE), "evidence", "casereq_kind_name: evidence");
	is_str(casereq_kind_name(KIND_LOCATION), "location", "casereq_kind_name: location");
}

/* ---- progress --------------------------------------------------------- */

static void
progress_reject(const char *text, const char *what)
{
	struct progress p;
	char err[256] = "";
	int rc = progress_parse(text, strlen(text), &p, err, sizeof(err));
	ok(rc == -1, "progress: rejects %s", what);
	ok(err[0] != '\0', "progress: %s has a message (%s)", what, err);
	ok(p.json == NULL && p.images[0] == NULL && p.failed_ids == NULL,
	    "progress: %s leaves nothing allocated", what);
	if (rc == 0)
		progress_free(&p);
}

static void
test_progress(void)
{
	static const char full[] =
	    "{\"caseId\":\"case-7\",\"status\":\"partial\",\"completedImages\":3,"
	    "\"totalImages\":4,\"evidenceImages\":{\"ev-0\":\"/media/case-7/ev-0.jpg\","
	    "\"ev-1\":\"https://cdn.example/ev-1.jpg\"},\"locationImages\":"
	    "{\"loc-0\":\"/media/case-7/loc-0.jpg\"},\"failedIds\":[\"ev-2\"]}";
	struct progress p;
	char err[256];

	ok(progress_status_rank("pending") == 0, "progress_status_rank: pending is 0");
	ok(progress_status_rank("generating") == 1, "progress_status_rank: generating is 1");
	ok(progress_status_rank("completed") == 2, "progress_status_rank: completed is 2");
	ok(progress_status_rank("partial") == 2, "progress_status_rank: partial is 2");
	ok(progress_status_rank("failed") == 2, "progress_status_rank: failed is 2");
	ok(progress_status_rank("bogus") == -1, "progress_status_rank: bogus is -1");
	ok(progress_status_rank("") == -1, "progress_status_rank: empty is -1");

	int rc = progress_parse(full, strlen(full), &p, err, sizeof(err));
	ok(rc == 0, "progress: a full ImageProgressUpdate parses");
	if (rc == 0) {
		is_str(p.case_id, "case-7", "progress: caseId");
		is_str(p.status, "partial", "progress: status");
		ok(p.completed == 3 && p.total == 4, "progress: completedImages 3, totalImages 4");
		ok(p.n_images[0] == 2, "progress: 2 evidence images (%zu)", p.n_images[0]);
		ok(p.n_images[1] == 1, "progress: 1 location image (%zu)", p.n_images[1]);
		if (p.n_images[0] == 2) {
			is_str(p.images[0][0].id, "ev-0", "progress: first evidence id");
			is_str(p.images[0][0].url, "/media/case-7/ev-0.jpg",
			    "progress: first evidence url");
			is_str(p.images[0][1].url, "https://cdn.example/ev-1.jpg",
			    "progress: second evidence url");
		}
		if (p.n_images[1] == 1)
			is_str(p.images[1][0].id, "loc-0", "progress: location id");
		ok(p.n_failed == 1, "progress: one failed id");
		if (p.n_failed == 1)
			is_str(p.failed_ids[0], "ev-2", "progress: failedIds[0]");
		progress_free(&p);
		ok(p.json == NULL, "progress: progress_free clears the struct");
	}

	static const char bare[] = "{\"caseId\":\"c\",\"status\":\"generating\","
	    "\"completedImages\":0,\"totalImages\":14}";
	rc = progress_parse(bare, strlen(bare), &p, err, sizeof(err));
	ok(rc == 0, "progress: the optional maps and list may be absent");
	if (rc == 0) {
		ok(p.n_images[0] == 0 && p.n_images[1] == 0 && p.n_failed == 0,
		    "progress: absent maps give no images and no failed ids");
		progress_free(&p);
	}
	static const char nulls[] = "{\"caseId\":\"c\",\"status\":\"completed\","
	    "\"completedImages\":1,\"totalImages\":1,\"evidenceImages\":null,"
	    "\"locationImages\":{},\"failedIds\":null}";
	rc = progress_parse(nulls, strlen(nulls), &p, err, sizeof(err));
	ok(rc == 0, "progress: null and empty maps are accepted");
	if (rc == 0) {
		ok(p.n_images[0] == 0 && p.n_images[1] == 0 && p.n_failed == 0,
		    "progress: null and empty maps give no images");
		progress_free(&p);
	}

#define HEAD_ "\"completedImages\":1,\"totalImages\":2"
	progress_reject("not json", "a body that is not JSON");
	progress_reject("[]", "an array root");
	progress_reject("{\"status\":\"completed\"," HEAD_ "}", "a missing caseId");
	progress_reject("{\"caseId\":\"a/b\",\"status\":\"completed\"," HEAD_ "}",
	    "a caseId with a slash");
	progress_reject("{\"caseId\":\"c\",\"status\":\"pending\"," HEAD_ "}",
	    "status pending");
	progress_reject("{\"caseId\":\"c\",\"status\":\"bogus\"," HEAD_ "}", "status bogus");
	progress_reject("{\"caseId\":\"c\"," HEAD_ "}", "a missing status");
	progress_reject("{\"caseId\":\"c\",\"status\":\"completed\",\"completedImages\":-1,"
	    "\"totalImages\":2}", "a negative completedImages");
	progress_reject("{\"caseId\":\"c\",\"status\":\"completed\",\"completedImages\":1.5,"
	    "\"totalImages\":2}", "a fractional completedImages");
	progress_reject("{\"caseId\":\"c\",\"status\":\"completed\",\"completedImages\":\"1\","
	    "\"totalImages\":2}", "a string completedImages");
	progress_reject("{\"caseId\":\"c\",\"status\":\"completed\",\"completedImages\":1}",
	    "a missing totalImages");
	progress_reject("{\"caseId\":\"c\",\"status\":\"completed\"," HEAD_
	    ",\"evidenceImages\":[\"x\"]}", "evidenceImages as an array");
	progress_reject("{\"caseId\":\"c\",\"status\":\"completed\"," HEAD_
	    ",\"evidenceImages\":\"x\"}", "evidenceImages as a string");
	progress_reject("{\"caseId\":\"c\",\"status\":\"completed\"," HEAD_
	    ",\"locationImages\":{\"l\":5}}", "a location URL that is a number");
	progress_reject("{\"caseId\":\"c\",\"status\":\"completed\"," HEAD_
	    ",\"evidenceImages\":{\"e\":\"/x\",\"f\":null}}", "an evidence URL that is null");
	progress_reject("{\"caseId\":\"c\",\"status\":\"completed\"," HEAD_
	    ",\"evidenceImages\":{\"../e\":\"/x\"}}", "an image id with ../");
	progress_reject("{\"caseId\":\"c\",\"status\":\"partial\"," HEAD_
	    ",\"failedIds\":[\"e\",5]}", "failedIds containing a number");
	progress_reject("{\"caseId\":\"c\",\"status\":\"partial\"," HEAD_
	    ",\"failedIds\":\"e\"}", "failedIds as a string");
#undef HEAD_
}

/* ---- config ----------------------------------------------------------- */

static void
config_reject(const char *name, const char *text, const char *what)
{
	struct config cfg;
	char err[256] = "";
	config_defaults(&cfg);
	long before = cfg.concurrency;
	int rc = config_parse(&cfg, name, text, err, sizeof(err));
	ok(rc == -1, "config_parse: rejects %s", what);
	ok(err[0] != '\0', "config_parse: %s has a message (%s)", what, err);
	ok(cfg.concurrency == before, "config_parse: %s leaves the settings alone", what);
	config_free(&cfg);
}

/* Loads text from a temporary file; returns config_load's result. */
static int
config_from(const char *dir, const char *text, struct config *cfg, char *path,
    size_t pathlen, char *err, size_t errlen)
{
	static int n;
	snprintf(path, pathlen, "%s/imagegen-%d.conf", dir, ++n);
	if (write_whole(path, text) != 0) {
		snprintf(err, errlen, "cannot write %s", path);
		config_defaults(cfg);
		return -2;
	}
	err[0] = '\0';
	return config_load(cfg, path, err, errlen);
}

static void
test_config(void)
{
	struct config cfg;
	char err[1024], path[512], want[600], tmpl[] = "/tmp/imagegen-unit-XXXXXX";

	config_defaults(&cfg);
	ok(cfg.concurrency == 5, "config: concurrency defaults to 5");
	ok(cfg.request_timeout == 60, "config: request_timeout defaults to 60");
	ok(cfg.job_deadline == 300, "config: job_deadline defaults to 300");
	ok(cfg.image_size == 512, "config: image_size defaults to 512");
	ok(cfg.image_quality == 80, "config: image_quality defaults to 80");
	is_str(cfg.provider, "gemini", "config: provider defaults to gemini");
	ok(cfg.image_urls == URLS_PATH, "config: image_urls defaults to path");
	is_str(cfg.media_url, "/media/", "config: media_url defaults to /media/");
	ok(cfg.max_items == 32 && cfg.max_name == 200 && cfg.max_description == 2000,
	    "config: max_items 32, max_name 200, max_description 2000");
	ok(cfg.max_body == 262144, "config: max_body defaults to 256 KiB");

	ok(config_parse(&cfg, "provider", "local", err, sizeof(err)) == 0,
	    "config_parse: provider = local");
	ok(config_parse(&cfg, "image_urls", "data", err, sizeof(err)) == 0 &&
	    cfg.image_urls == URLS_DATA, "config_parse: image_urls = data");
	ok(config_parse(&cfg, "concurrency", "64", err, sizeof(err)) == 0 &&
	    cfg.concurrency == 64, "config_parse: concurrency 64, the maximum");
	ok(config_parse(&cfg, "gemini_url", "http://127.0.0.1:9", err, sizeof(err)) == 0,
	    "config_parse: an http gemini_url, a provider's own key");
	ok(config_parse(&cfg, "api_key", "k1", err, sizeof(err)) == 0 &&
	    strcmp(provider_key(&provider_gemini, &cfg), "k1") == 0,
	    "config_parse: api_key lands in gemini's settings");
	ok(config_parse(&cfg, "gemini_model", " m-1  m.2\tm_3 ", err, sizeof(err)) == 0 &&
	    provider_models(&provider_gemini, &cfg)->n == 3 &&
	    strcmp(provider_models(&provider_gemini, &cfg)->name[2], "m_3") == 0,
	    "config_parse: gemini_model takes an ordered list of names");
	config_free(&cfg);

	config_reject("no_such_key", "1", "an unknown key");
	config_reject("concurrency", "0", "concurrency 0");
	config_reject("concurrency", "65", "concurrency 65");
	config_reject("concurrency", "5x", "concurrency 5x");
	config_reject("concurrency", "", "an empty concurrency");
	config_reject("concurrency", "99999999999999999999999", "an overflowing number");
	config_reject("gemini_url", "ftp://x", "gemini_url ftp://x");
	config_reject("gemini_model", "", "an empty gemini_model");
	config_reject("gemini_model", "a/../../x", "a model name with a /");
	config_reject("gemini_model", "a b a", "a model named twice");
	config_reject("openai_model", "1 2 3 4 5 6 7 8 9", "nine models");
	config_reject("gemini_thinking_level", "EXTREME", "an unknown thinking level");
	config_reject("gemini_image_size", "1k", "an image size Google does not take");
	config_reject("imagen_model", "imagen-3.0-generate-002", "a key of the Imagen that is gone");
	config_reject("database", "relative/imagegen.db", "a relative database path");
	config_reject("media_dir", "media", "a relative media_dir");

	if (mkdtemp(tmpl) == NULL) {
		ok(0, "config: mkdtemp: %s", strerror(errno));
		return;
	}
	unsetenv("IMAGEGEN_CONFIG");
	unsetenv("GEMINI_API_KEY");

	int rc = config_from(tmpl, "# a comment\n\n   \n  concurrency   =   7  \n"
	    "\t# indented comment\nprovider=local\napi_key = from-file\n"
	    "media_url = /img/\n", &cfg, path, sizeof(path), err, sizeof(err));
	ok(rc == 0, "config_load: comments, blank lines and spaces are fine (%s)", err);
	ok(cfg.concurrency == 7, "config_load: concurrency = 7 read");
	ok(provider_at(&cfg, 0) == &provider_local && provider_count(&cfg) == 1,
	    "config_load: provider = local read");
	is_str(provider_key(&provider_gemini, &cfg), "from-file",
	    "config_load: api_key from the file");
	is_str(cfg.media_url, "/img/", "config_load: media_url read");
	is_str(cfg.path, path, "config_load: path remembered");
	ok(cfg.request_timeout == 60, "config_load: unset keys keep their defaults");
	config_free(&cfg);

	setenv("GEMINI_API_KEY", "from-env", 1);
	rc = config_from(tmpl, "api_key = from-file\n", &cfg, path, sizeof(path), err,
	    sizeof(err));
	ok(rc == 0, "config_load: with GEMINI_API_KEY set");
	is_str(provider_key(&provider_gemini, &cfg), "from-env",
	    "config_load: GEMINI_API_KEY overrides api_key");
	config_free(&cfg);
	unsetenv("GEMINI_API_KEY");

	rc = config_from(tmpl, "concurrency = 3\nprovider = imagen\n# x\nimagen_url = "
	    "https://x.example\nimagen_model = imagen-4.0-generate-001\n", &cfg, path,
	    sizeof(path), err, sizeof(err));
	ok(rc == -1 && strstr(err, "Imagen was shut down by Google on 2026-08-17") != NULL,
	    "config_load: an Imagen config says Imagen is gone (%s)", err);
	ok(strstr(err, "delete lines 2 (provider), 4 (imagen_url), 5 (imagen_model)") != NULL,
	    "config_load: ... and names every line to delete, in one line");
	config_free(&cfg);

	rc = config_from(tmpl, "providers = openai imagen\n", &cfg, path, sizeof(path), err,
	    sizeof(err));
	ok(rc == -1 && strstr(err, "delete line 1 (providers)") != NULL,
	    "config_load: imagen in providers is refused the same way (%s)", err);
	config_free(&cfg);

	rc = config_from(tmpl, "# one\nconcurrency = 3\nbogus_key = 1\nimage_size = 256\n",
	    &cfg, path, sizeof(path), err, sizeof(err));
	snprintf(want, sizeof(want), "%s:3:", path);
	ok(rc == -1, "config_load: an unknown key on line 3 is an error");
	ok(strstr(err, want) != NULL, "config_load: the error names %s (%s)", want, err);
	ok(strstr(err, "bogus_key") != NULL, "config_load: the error names the key");
	config_free(&cfg);

	rc = config_from(tmpl, "concurrency = 3\n\n# x\n\nimage_quality = 101\n",
	    &cfg, path, sizeof(path), err, sizeof(err));
	snprintf(want, sizeof(want), "%s:5:", path);
	ok(rc == -1, "config_load: a bad value on line 5 is an error");
	ok(strstr(err, want) != NULL, "config_load: the error names %s (%s)", want, err);
	config_free(&cfg);

	rc = config_from(tmpl, "concurrency 3\n", &cfg, path, sizeof(path), err, sizeof(err));
	snprintf(want, sizeof(want), "%s:1:", path);
	ok(rc == -1 && strstr(err, want) != NULL,
	    "config_load: a line without = is an error at line 1 (%s)", err);
	config_free(&cfg);

	rc = config_from(tmpl, "media_url = /media\n", &cfg, path, sizeof(path), err,
	    sizeof(err));
	ok(rc == -1, "config_load: media_url without a trailing slash is rejected");
	ok(strstr(err, "media_url") != NULL, "config_load: the error names media_url (%s)",
	    err);
	config_free(&cfg);

	snprintf(path, sizeof(path), "%s/missing.conf", tmpl);
	err[0] = '\0';
	rc = config_load(&cfg, path, err, sizeof(err));
	ok(rc == -1, "config_load: a missing explicit file is an error");
	ok(strstr(err, path) != NULL, "config_load: the error names the file (%s)", err);
	config_free(&cfg);

	setenv("IMAGEGEN_CONFIG", path, 1);
	rc = config_load(&cfg, NULL, err, sizeof(err));
	ok(rc == -1, "config_load: a missing file named by IMAGEGEN_CONFIG is an error");
	config_free(&cfg);
	unsetenv("IMAGEGEN_CONFIG");

	DIR *d = opendir(tmpl);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		char p[600];
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpl, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(tmpl);
}

/* ---- providers -------------------------------------------------------- */

static const unsigned char png_bytes[] = { 0x89, 'P', 'N', 'G', 0, 1, 2, 0xff, 0xfe };

/* parse BODY with provider P; the verdict, the error in a->err */
static enum provider_verdict
parse_with(const struct provider *p, const char *body, struct provider_answer *a)
{
	provider_answer_init(a);
	p->parse(body, strlen(body), a);
	return a->verdict;
}

static int
got_png(struct provider_answer *a)
{
	int same = a->verdict == PV_OK && a->len == sizeof(png_bytes) &&
	    memcmp(a->img, png_bytes, a->len) == 0;
	free(a->img);
	a->img = NULL;
	return same;
}

static void
test_gemini(void)
{
	struct provider_answer a;
	char body[1024];
	char *b64 = codec_base64_encode(png_bytes, sizeof(png_bytes));
	snprintf(body, sizeof(body), "{\"candidates\":[{\"content\":{\"parts\":["
	    "{\"text\":\"here\"},"
	    "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"AAAA\"},\"thought\":true},"
	    "{\"inline_data\":{\"mime_type\":\"image/png\",\"data\":\"%s\"}}]},"
	    "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":12,"
	    "\"candidatesTokenCount\":1290,\"totalTokenCount\":1302}}", b64);
	parse_with(&provider_gemini, body, &a);
	ok(a.prompt_tokens == 12 && a.output_tokens == 1290,
	    "gemini: usageMetadata's token counts are kept");
	ok(got_png(&a), "gemini: the last image that is not a thought, inline_data spelling");
	snprintf(body, sizeof(body), "{\"candidates\":[{\"content\":{\"parts\":["
	    "{\"inlineData\":{\"mimeType\":\"image/jpeg\",\"data\":\"%s\"}}]}}],"
	    "\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":1120,"
	    "\"thoughtsTokenCount\":250},\"modelStatus\":{\"modelStage\":\"DEPRECATED\","
	    "\"retirementTime\":\"2026-12-16T00:00:00Z\",\"message\":\"going\"}}", b64);
	parse_with(&provider_gemini, body, &a);
	ok(a.output_tokens == 1370, "gemini: thinking tokens count as output (%ld)",
	    a.output_tokens);
	ok(strcmp(a.stage, "DEPRECATED") == 0 && a.retires_at == 1797379200000LL,
	    "gemini: modelStatus's stage and retirementTime are kept (%s %lld)", a.stage,
	    (long long)a.retires_at);
	ok(got_png(&a), "gemini: an image/jpeg part is the picture as well");
	free(b64);

	static const struct { const char *body, *want, *what; enum provider_verdict v; } bad[] = {
		{ "{\"candidates\":[{\"content\":{\"parts\":[]},\"finishReason\":\"IMAGE_SAFETY\"}]}",
		  "IMAGE_SAFETY", "a safety finishReason", PV_REFUSED },
		{ "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"}}",
		  "prompt blocked: PROHIBITED_CONTENT", "a blocked prompt", PV_REFUSED },
		{ "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"I can only talk\"}]},"
		  "\"finishReason\":\"STOP\"}]}", "I can only talk", "a text-only answer",
		  PV_FAILED },
		{ "{\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":{\"mimeType\":"
		  "\"image/png\",\"data\":\"AAAA\"},\"thought\":true}]},\"finishReason\":"
		  "\"NO_IMAGE\"}]}", "NO_IMAGE", "only thoughts", PV_FAILED },
		{ "{\"candidates\":[]}", "no candidates", "no candidates", PV_FAILED },
		{ "{\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":{\"mimeType\":"
		  "\"image/png\",\"data\":\"!!\"}}]}}]}", "base64", "bad base64", PV_FAILED },
		{ "{\"candidates\":[", "JSON", "a cut-off body", PV_FAILED },
		{ "{\"candidates\":[{\"content\":{\"parts\":[]},\"finishReason\":\"IMAGE_SAFETY\","
		  "\"finishMessage\":\"Unable to show the generated image.\"}]}",
		  "IMAGE_SAFETY: Unable to show the generated image.", "finishMessage", PV_REFUSED },
		{ "{\"candidates\":[{\"content\":{\"parts\":[]},\"finishReason\":"
		  "\"PUP_LIMITED_DISABLED\"}]}", "account is limited",
		  "an account limited or disabled", PV_ACCOUNT },
		{ "{\"candidates\":[{\"content\":{\"parts\":[]},\"finishReason\":"
		  "\"CONTINUATION\"}]}", "CONTINUATION", "a cut-short answer", PV_RETRY },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum provider_verdict v = parse_with(&provider_gemini, bad[i].body, &a);
		ok(v == bad[i].v, "gemini: %s has verdict %d (%d)", bad[i].what, bad[i].v, v);
		ok(strstr(a.err, bad[i].want) != NULL, "gemini: %s says \"%s\" (%s)",
		    bad[i].what, bad[i].want, a.err);
		free(a.img);
	}
}

/* The body and URL gemini sends, as @google/genai 3.6.1 sends them. */
static void
test_gemini_request(void)
{
	struct config cfg;
	struct curl_slist *h = NULL;
	char url[512], err[256], *body = NULL;
	config_defaults(&cfg);
	ok(provider_gemini.request(&cfg, "gemini-nano-banana-2.1", "a \"cat\"", url, sizeof(url),
	    &h, &body) == 0, "gemini: a request is built");
	is_str(url, "https://generativelanguage.googleapis.com/v1beta/models/"
	    "gemini-nano-banana-2.1:generateContent", "gemini: the model in the v1beta path");
	is_str(body, "{\"contents\":[{\"parts\":[{\"text\":\"a \\\"cat\\\"\"}],\"role\":\"user\"}],"
	    "\"store\":false,\"generationConfig\":{\"responseModalities\":[\"IMAGE\"],"
	    "\"imageConfig\":{\"aspectRatio\":\"1:1\"}}}",
	    "gemini: store false by default, no imageSize, no thinkingConfig");
	free(body);
	curl_slist_free_all(h);
	h = NULL;
	ok(config_parse(&cfg, "gemini_store", "yes", err, sizeof(err)) == 0 &&
	    config_parse(&cfg, "gemini_image_size", "2K", err, sizeof(err)) == 0 &&
	    config_parse(&cfg, "gemini_thinking_level", "MINIMAL", err, sizeof(err)) == 0,
	    "gemini_store, gemini_image_size and gemini_thinking_level are set");
	provider_gemini.request(&cfg, "m", "p", url, sizeof(url), &h, &body);
	is_str(body, "{\"contents\":[{\"parts\":[{\"text\":\"p\"}],\"role\":\"user\"}],"
	    "\"generationConfig\":{\"responseModalities\":[\"IMAGE\"],\"thinkingConfig\":"
	    "{\"thinkingLevel\":\"MINIMAL\"},\"imageConfig\":{\"aspectRatio\":\"1:1\","
	    "\"imageSize\":\"2K\"}}}", "gemini: the options as the SDK sends them");
	free(body);
	curl_slist_free_all(h);
	config_free(&cfg);
	ok(provider_time("2026-12-16T00:00:00Z") == 1797379200000LL &&
	    provider_time("2026-12-16T00:00:00.5Z") == 1797379200000LL &&
	    provider_time("2026-12-16") == 1797379200000LL,
	    "provider_time reads RFC 3339 and bare dates");
	ok(provider_time("soon") == 0 && provider_time("2026-12-16T00:00:00+01:00") == 0 &&
	    provider_time(NULL) == 0, "provider_time: anything else is 0");
}

/* error(CODE, BODY) with provider P: the verdict, a.err and a.retry_after_ms */
static enum provider_verdict
error_with(const struct provider *p, const struct config *cfg, long code, const char *body,
    struct provider_answer *a)
{
	provider_answer_init(a);
	p->error(cfg, "the-model", code, body, strlen(body), a);
	return a->verdict;
}

static void
test_provider_errors(void)
{
	struct config cfg;
	struct provider_answer a;
	config_defaults(&cfg);
	error_with(&provider_gemini, &cfg, 429, "{\"error\":{\"code\":429,\"message\":\"quota\","
	    "\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":"
	    "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"13s\"}]}}", &a);
	ok(a.verdict == PV_RETRY && a.retry_after_ms == 13000,
	    "gemini: 429 is retried after RetryInfo's 13s (%ld ms)", a.retry_after_ms);
	error_with(&provider_gemini, &cfg, 404, "{\"error\":{\"code\":404,\"message\":"
	    "\"models/x is not found\",\"status\":\"NOT_FOUND\"}}", &a);
	ok(a.verdict == PV_GONE && strstr(a.err, "check gemini_model: the-model is retired"),
	    "gemini: 404 retires the model and names gemini_model (%s)", a.err);
	error_with(&provider_gemini, &cfg, 400, "{\"error\":{\"code\":400,\"message\":\"API key "
	    "not valid\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
	    "\"reason\":\"API_KEY_INVALID\"}]}}", &a);
	ok(a.verdict == PV_ACCOUNT && strstr(a.err, "GEMINI_API_KEY"),
	    "gemini: a 400 API_KEY_INVALID fails the job and names the key (%s)", a.err);
	error_with(&provider_gemini, &cfg, 400, "{\"error\":{\"code\":400,\"message\":\"User "
	    "location is not supported for the API use.\",\"status\":\"FAILED_PRECONDITION\"}}",
	    &a);
	ok(a.verdict == PV_ACCOUNT && strstr(a.err, "billing"),
	    "gemini: FAILED_PRECONDITION fails the job and says billing or region (%s)", a.err);
	error_with(&provider_gemini, &cfg, 400, "{\"error\":{\"code\":400,\"message\":"
	    "\"Model does not support the requested response modalities: image\",\"status\":"
	    "\"INVALID_ARGUMENT\"}}", &a);
	ok(a.verdict == PV_GONE && strstr(a.err, "makes no images"),
	    "gemini: a text model asked for an image gives way to the next (%s)", a.err);
	error_with(&provider_gemini, &cfg, 429, "{\"error\":{\"code\":429,\"status\":"
	    "\"RESOURCE_EXHAUSTED\"}}", &a);
	ok(a.verdict == PV_RETRY && a.quota, "gemini: a 429 is a quota's wait");
	error_with(&provider_gemini, &cfg, 400, "{\"error\":{\"message\":\"bad size\"}}", &a);
	ok(a.verdict == PV_FAILED && strcmp(a.err, "HTTP 400: bad size") == 0,
	    "gemini: another 400 fails the image with the message (%s)", a.err);
	error_with(&provider_openai, &cfg, 400, "{\"error\":{\"message\":\"no\",\"type\":"
	    "\"image_generation_user_error\",\"code\":\"moderation_blocked\"}}", &a);
	ok(a.verdict == PV_REFUSED, "openai: moderation_blocked is a refusal (%s)", a.err);
	error_with(&provider_openai, &cfg, 401, "{\"error\":{\"message\":\"bad key\"}}", &a);
	ok(a.verdict == PV_ACCOUNT && strstr(a.err, "OPENAI_API_KEY"),
	    "openai: 401 fails the job and names the key (%s)", a.err);
	error_with(&provider_openai, &cfg, 400, "{\"error\":{\"message\":\"The model "
	    "`gpt-image-1` does not exist\",\"type\":\"invalid_request_error\",\"code\":"
	    "\"model_not_found\"}}", &a);
	ok(a.verdict == PV_GONE && strstr(a.err, "check openai_model: the-model"),
	    "openai: a 400 model_not_found retires the model (%s)", a.err);
	error_with(&provider_openai, &cfg, 429, "{\"error\":{\"message\":\"no money\","
	    "\"code\":\"insufficient_quota\"}}", &a);
	ok(a.verdict == PV_ACCOUNT && strstr(a.err, "billing"),
	    "openai: insufficient_quota fails the job and names the billing page (%s)", a.err);
	error_with(&provider_openai, &cfg, 503, "not json", &a);
	ok(a.verdict == PV_RETRY && strcmp(a.err, "HTTP 503") == 0,
	    "openai: 503 without JSON is retried (%s)", a.err);
	config_free(&cfg);
}

static void
test_provider_config(void)
{
	ok(config_price("gemini:0.039 openai:0.042", "openai") == 0.042,
	    "config_price: a provider's own price");
	ok(config_price("gemini:0.039", "openai") == -1, "config_price: none for another");
	ok(config_price("0.05", "openai") == 0.05, "config_price: a bare price is for all");
	ok(config_price("", "gemini") == -1, "config_price: an empty list prices nothing");
	ok(config_price("gemini:cheap", "gemini") == -2 && config_price("gemini:", "x") == -2 &&
	    config_price("-1", "x") == -2, "config_price: words that are not prices are refused");
	struct config cfg;
	config_defaults(&cfg);
	ok(cfg.n_chain == 1 && provider_at(&cfg, 0) == &provider_gemini,
	    "the default chain is gemini alone");
	for (int i = 0; i < MAX_PROVIDERS; i++) {
		const char *name = (const char *[]){ "gemini", "openai", "local" }[i];
		ok(provider_named(name, strlen(name)) == provider_table(i),
		    "the table's entry %d is named %s", i, name);
	}
	is_str(provider_model(&provider_gemini, &cfg), "gemini-nano-banana-2.1",
	    "provider_model is the first of the provider's model list");
	is_str(provider_model(&provider_openai, &cfg), "gpt-image-2.6-sunburst",
	    "openai's first model is gpt-image-2.6-sunburst");
	ok(provider_key(&provider_local, &cfg) == NULL, "the local provider needs no key");
	char err[256];
	struct provider_stage st[MAX_STAGES];
	ok(config_parse(&cfg, "providers", "gemini openai", err, sizeof(err)) == 0,
	    "providers = gemini openai");
	config_free(&cfg);
	config_defaults(&cfg);
	cfg.chain[1] = 1;
	cfg.n_chain = 2;
	int n = provider_stages(&cfg, st);
	ok(n == 4 && st[0].p == &provider_gemini && strcmp(st[1].model,
	    "gemini-3.1-flash-lite-image") == 0 && st[2].p == &provider_openai && st[2].first &&
	    !st[3].first && st[3].pos == 1,
	    "the stages: each provider's models in order, then the next provider (%d)", n);
	config_free(&cfg);
}

static void
test_provider_text(void)
{
	char out[64];
	/* "é" is 2 bytes: a cut at 4 bytes of "abcé" must not split it. */
	provider_text(out, sizeof(out), "abc\xc3\xa9xyz", 4);
	is_str(out, "abc", "provider_text: a cut never splits a character");
	provider_text(out, sizeof(out), "abc\xc3\xa9xyz", 5);
	is_str(out, "abc\xc3\xa9", "provider_text: a whole character is kept");
	provider_text(out, sizeof(out), "a\xff" "b\xc3" "c\xed\xa0\x80" "\n", 60);
	is_str(out, "a?b?c??? ", "provider_text: broken bytes become ?, controls spaces");
	provider_text(out, 4, "abcdef", 100);
	is_str(out, "abc", "provider_text: the buffer bounds the copy");
}

/* ---- codec ------------------------------------------------------------ */

static void
test_codec(void)
{
	unsigned char bin[256];
	for (int i = 0; i < 256; i++)
		bin[i] = (unsigned char)(255 - i);

	static const size_t lens[] = { 1, 2, 3, 4, 5, 255, 256 };
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t n = lens[k], outlen = 0;
		unsigned char *out = NULL;
		char *b64 = codec_base64_encode(bin, n);
		ok(b64 != NULL && strlen(b64) == 4 * ((n + 2) / 3),
		    "codec: %zu bytes encode to %zu characters", n, 4 * ((n + 2) / 3));
		int rc = b64 ? codec_base64_decode(b64, strlen(b64), &out, &outlen) : -1;
		ok(rc == 0 && outlen == n && memcmp(out, bin, n) == 0,
		    "codec: %zu binary bytes round-trip", n);
		if (rc == 0)
			free(out);
		free(b64);
	}
	char *b64 = codec_base64_encode((const unsigned char *)"a", 1);
	is_str(b64, "YQ==", "codec: \"a\" encodes to YQ==");
	free(b64);
	b64 = codec_base64_encode((const unsigned char *)"abcd", 4);
	is_str(b64, "YWJjZA==", "codec: \"abcd\" encodes to YWJjZA==");
	free(b64);

	unsigned char *out = NULL;
	size_t outlen = 0;
	ok(codec_base64_decode("!!!", 3, &out, &outlen) == -1, "codec: decode rejects !!!");
	ok(codec_base64_decode("YW!j", 4, &out, &outlen) == -1,
	    "codec: decode rejects a bad character inside");
	ok(codec_base64_decode("", 0, &out, &outlen) == -1, "codec: decode rejects empty input");
	static const char wrapped[] = "YWJj\nZGVm\n";
	int rc = codec_base64_decode(wrapped, strlen(wrapped), &out, &outlen);
	ok(rc == 0 && outlen == 6 && memcmp(out, "abcdef", 6) == 0,
	    "codec: decode skips line breaks");
	if (rc == 0)
		free(out);

	char hex[65];
	codec_sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "codec: sha256 of abc");
	codec_sha256_hex("", 0, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "codec: sha256 of nothing");
	int64_t now = codec_now_ms();
	ok(now > 1700000000000LL, "codec: codec_now_ms is epoch milliseconds (%lld)",
	    (long long)now);
}

/* ---- jobjson ---------------------------------------------------------- */

static void
fill_image(struct image *im, const char *id, enum item_kind kind, int pos,
    const char *status, int attempts, char *error, char *url)
{
	memset(im, 0, sizeof(*im));
	snprintf(im->item_id, sizeof(im->item_id), "%s", id);
	im->kind = kind;
	im->position = pos;
	im->name = (char *)"A name";
	im->description = (char *)"A description";
	snprintf(im->status, sizeof(im->status), "%s", status);
	im->attempts = attempts;
	im->error = error;
	im->url = url;
}

static int
has_number(const cJSON *o, const char *key, double want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) && v->valuedouble == want;
}

static int
has_string(const cJSON *o, const char *key, const char *want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

static void
test_jobjson(void)
{
	struct config cfg;
	struct job job;
	struct image im[3];

	config_defaults(&cfg);
	memset(&job, 0, sizeof(job));
	snprintf(job.case_id, sizeof(job.case_id), "case-j");
	snprintf(job.status, sizeof(job.status), "generating");
	job.total = 3;
	job.completed = 1;
	job.failed = 1;
	job.created_at = 1700000000123LL;
	fill_image(&im[0], "ev-0", KIND_EVIDENCE, 0, "completed", 1, NULL,
	    (char *)"/media/case-j/ev-0.jpg");
	fill_image(&im[1], "ev-1", KIND_EVIDENCE, 1, "failed", 3, (char *)"HTTP 500", NULL);
	fill_image(&im[2], "loc-0", KIND_LOCATION, 2, "pending", 0, NULL, NULL);

	char *text = jobjson_progress(&cfg, &job, im, 3);
	ok(text != NULL, "jobjson_progress: renders");
	cJSON *o = text ? cJSON_Parse(text) : NULL;
	ok(cJSON_IsObject(o), "jobjson_progress: is a JSON object (%s)", text ? text : "");
	if (o != NULL) {
		ok(has_string(o, "caseId", "case-j"), "jobjson_progress: caseId");
		ok(has_string(o, "status", "generating"), "jobjson_progress: status");
		ok(has_number(o, "completedImages", 1), "jobjson_progress: completedImages 1");
		ok(has_number(o, "totalImages", 3), "jobjson_progress: totalImages 3");
		const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "evidenceImages");
		ok(cJSON_IsObject(ev) && cJSON_GetArraySize(ev) == 1 &&
		    has_string(ev, "ev-0", "/media/case-j/ev-0.jpg"),
		    "jobjson_progress: evidenceImages holds only the completed one");
		const cJSON *loc = cJSON_GetObjectItemCaseSensitive(o, "locationImages");
		ok(cJSON_IsObject(loc) && cJSON_GetArraySize(loc) == 0,
		    "jobjson_progress: locationImages is {}");
		const cJSON *failed = cJSON_GetObjectItemCaseSensitive(o, "failedIds");
		ok(cJSON_IsArray(failed) && cJSON_GetArraySize(failed) == 1 &&
		    cJSON_IsString(cJSON_GetArrayItem(failed, 0)) &&
		    strcmp(cJSON_GetArrayItem(failed, 0)->valuestring, "ev-1") == 0,
		    "jobjson_progress: failedIds is [\"ev-1\"]");
		ok(cJSON_GetObjectItemCaseSensitive(o, "images") == NULL,
		    "jobjson_progress: no per-image list");
	}
	cJSON_Delete(o);
	free(text);

	cJSON *s = jobjson_status(&cfg, &job, im, 3);
	ok(s != NULL, "jobjson_status: renders");
	if (s != NULL) {
		ok(has_number(s, "createdAt", 1700000000123.0), "jobjson_status: createdAt is a number");
		ok(cJSON_GetObjectItemCaseSensitive(s, "startedAt") == NULL,
		    "jobjson_status: no startedAt when started_at is 0");
		ok(cJSON_GetObjectItemCaseSensitive(s, "completedAt") == NULL,
		    "jobjson_status: no completedAt when completed_at is 0");
		ok(cJSON_GetObjectItemCaseSensitive(s, "lastError") == NULL,
		    "jobjson_status: no lastError when there is none (lastError?: string)");
		ok(has_number(s, "failedImages", 1) && has_number(s, "retryCount", 0),
		    "jobjson_status: failedImages and retryCount");
		const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(s, "images");
		ok(cJSON_IsArray(imgs) && cJSON_GetArraySize(imgs) == 3,
		    "jobjson_status: images has 3 entries");
		if (cJSON_GetArraySize(imgs) == 3) {
			const cJSON *a = cJSON_GetArrayItem(imgs, 0), *b = cJSON_GetArrayItem(imgs, 1),
			    *c = cJSON_GetArrayItem(imgs, 2);
			ok(has_string(a, "id", "ev-0") && has_string(a, "kind", "evidence") &&
			    has_string(a, "status", "completed") && has_number(a, "attempts", 1) &&
			    cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a, "error")),
			    "jobjson_status: images[0] is the completed evidence, error null");
			ok(has_string(b, "id", "ev-1") && has_string(b, "kind", "evidence") &&
			    has_string(b, "status", "failed") && has_number(b, "attempts", 3) &&
			    has_string(b, "error", "HTTP 500"),
			    "jobjson_status: images[1] is the failed evidence with its error");
			ok(has_string(c, "id", "loc-0") && has_string(c, "kind", "location") &&
			    has_string(c, "status", "pending") && has_number(c, "attempts", 0),
			    "jobjson_status: images[2] is the pending location");
		}
		const cJSON *ev = cJSON_GetObjectItemCaseSensitive(s, "evidence");
		const cJSON *loc = cJSON_GetObjectItemCaseSensitive(s, "locations");
		ok(cJSON_GetArraySize(ev) == 2 && cJSON_GetArraySize(loc) == 1 &&
		    has_string(cJSON_GetArrayItem(loc, 0), "name", "A name"),
		    "jobjson_status: evidence and locations as submitted");
		cJSON_Delete(s);
	}

	job.started_at = 1700000000200LL;
	job.last_error = (char *)"ev-1: HTTP 500";
	s = jobjson_status(&cfg, &job, im, 3);
	ok(s != NULL && has_number(s, "startedAt", 1700000000200.0) &&
	    has_string(s, "lastError", "ev-1: HTTP 500"),
	    "jobjson_status: startedAt and lastError when set");
	cJSON_Delete(s);

	/* image_urls = data: the map holds the file inline. */
	char path[] = "/tmp/imagegen-unit-jpg-XXXXXX";
	int fd = mkstemp(path);
	if (fd >= 0) {
		ok(write(fd, "\xff\xd8\xff\xe0", 4) == 4, "jobjson: wrote a small file");
		close(fd);
		char *url = jobjson_data_url(path);
		is_str(url, "data:image/jpeg;base64,/9j/4A==", "jobjson_data_url: inline JPEG");
		free(url);
		cfg.image_urls = URLS_DATA;
		im[0].path = path;
		text = jobjson_progress(&cfg, &job, im, 3);
		o = text ? cJSON_Parse(text) : NULL;
		ok(has_string(cJSON_GetObjectItemCaseSensitive(o, "evidenceImages"), "ev-0",
		    "data:image/jpeg;base64,/9j/4A=="),
		    "jobjson_progress: image_urls = data gives a data: URL");
		cJSON_Delete(o);
		free(text);
		unlink(path);
	}
	ok(jobjson_data_url("/nonexistent/imagegen.jpg") == NULL,
	    "jobjson_data_url: a missing file gives NULL");
	config_free(&cfg);
}

/* ---- image ------------------------------------------------------------ */

/* The wand's picture as a malloc'd blob, or NULL. */
static unsigned char *
wand_blob(MagickWand *mw, size_t *len)
{
	unsigned char *copy = NULL, *blob = MagickGetImageBlob(mw, len);
	if (blob != NULL && (copy = malloc(*len)) != NULL)
		memcpy(copy, blob, *len);
	MagickRelinquishMemory(blob);
	return copy;
}

/* A w x h gradient in format ("PNG", "JPEG" or "WEBP"), with a comment, from MagickWand. */
static unsigned char *
make_picture(const char *format, size_t w, size_t h, size_t *len)
{
	MagickWand *mw = NewMagickWand();
	unsigned char *copy = NULL;
	*len = 0;
	if (MagickSetSize(mw, w, h) && MagickReadImage(mw, "gradient:red-blue") &&
	    MagickSetImageProperty(mw, "comment", "imagegen-secret-comment") &&
	    MagickSetImageFormat(mw, format)) {
		copy = wand_blob(mw, len);
	}
	DestroyMagickWand(mw);
	return copy;
}

struct decoded {
	char format[16];
	char sampling[32];
	size_t width, height, quality;
};

/* Decodes a blob with MagickWand; returns 0 when it decodes. */
static int
decode(const unsigned char *data, size_t len, struct decoded *d)
{
	MagickWand *mw = NewMagickWand();
	int rc = -1;
	memset(d, 0, sizeof(*d));
	if (MagickReadImageBlob(mw, data, len)) {
		char *fmt = MagickGetImageFormat(mw);
		char *sf = MagickGetImageProperty(mw, "jpeg:sampling-factor");
		snprintf(d->format, sizeof(d->format), "%s", fmt ? fmt : "");
		snprintf(d->sampling, sizeof(d->sampling), "%s", sf ? sf : "");
		d->width = MagickGetImageWidth(mw);
		d->height = MagickGetImageHeight(mw);
		d->quality = MagickGetImageCompressionQuality(mw);
		MagickRelinquishMemory(fmt);
		MagickRelinquishMemory(sf);
		rc = 0;
	}
	DestroyMagickWand(mw);
	return rc;
}

static int
contains(const unsigned char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle)) != NULL;
}

static void
compress_case(const char *format, size_t w, size_t h, long size, long quality)
{
	size_t len, outlen = 0;
	unsigned char *in = make_picture(format, w, h, &len), *out = NULL;
	char err[512] = "";
	struct decoded d;
	ok(in != NULL && len > 12, "image: made a %zux%zu %s of %zu bytes", w, h, format, len);
	if (in == NULL)
		return;
	if (strcmp(format, "WEBP") != 0)
		ok(contains(in, len, "imagegen-secret-comment"),
		    "image: the %s input carries a comment to strip", format);
	int rc = image_compress(in, len, size, quality, &out, &outlen, err, sizeof(err));
	ok(rc == 0, "image_compress: a %zux%zu %s compresses (%s)", w, h, format, err);
	if (rc == 0) {
		ok(outlen > 3 && memcmp(out, "\xff\xd8\xff", 3) == 0,
		    "image_compress: %zux%zu %s: output starts with FF D8 FF", w, h, format);
		int dec = decode(out, outlen, &d);
		ok(dec == 0 && strcmp(d.format, "JPEG") == 0 && d.width == (size_t)size &&
		    d.height == (size_t)size,
		    "image_compress: %zux%zu %s decodes back as a %ldx%ld JPEG (%s %zux%zu)",
		    w, h, format, size, size, d.format, d.width, d.height);
		ok(dec == 0 && d.quality == (size_t)quality,
		    "image_compress: %zux%zu %s: quality %ld (%zu)", w, h, format, quality,
		    d.quality);
		is_str(d.sampling, "2x2,1x1,1x1", "image_compress: %zux%zu %s: chroma 4:2:0", w, h,
		    format);
		ok(!contains(out, outlen, "imagegen-secret-comment") &&
		    !contains(out, outlen, "Exif"),
		    "image_compress: %zux%zu %s: metadata stripped", w, h, format);
		free(out);
	}
	free(in);
}

static int
dir_entries(const char *dir, char *names, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	names[0] = '\0';
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		size_t used = strlen(names);
		snprintf(names + used, len - used, "%s%s", used ? " " : "", de->d_name);
	}
	if (d != NULL)
		closedir(d);
	return n;
}

static void
test_image_write(void)
{
	char tmpl[] = "/tmp/imagegen-unit-XXXXXX", err[512] = "", path[700], sub[600],
	    names[512];
	unsigned char data[3000];
	size_t len = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	if (mkdtemp(tmpl) == NULL) {
		ok(0, "image_write: mkdtemp: %s", strerror(errno));
		return;
	}
	int rc = image_write(tmpl, "ev-0.jpg", data, sizeof(data), err, sizeof(err));
	ok(rc == 0, "image_write: writes into an existing directory (%s)", err);
	snprintf(path, sizeof(path), "%s/ev-0.jpg", tmpl);
	char *back = read_whole(path, &len);
	ok(back != NULL && len == sizeof(data) && memcmp(back, data, len) == 0,
	    "image_write: the file holds exactly the bytes (%zu)", len);
	free(back);
	ok(dir_entries(tmpl, names, sizeof(names)) == 1 && strcmp(names, "ev-0.jpg") == 0,
	    "image_write: no other file is left (%s)", names);

	rc = image_write(tmpl, "ev-0.jpg", data, 10, err, sizeof(err));
	back = read_whole(path, &len);
	ok(rc == 0 && back != NULL && len == 10 && memcmp(back, data, 10) == 0,
	    "image_write: rewriting replaces the file whole");
	free(back);

	snprintf(sub, sizeof(sub), "%s/case-1", tmpl);
	rc = image_write(sub, "loc-0.jpg", data, 100, err, sizeof(err));
	ok(rc == 0, "image_write: creates the case directory (%s)", err);
	ok(dir_entries(sub, names, sizeof(names)) == 1 && strcmp(names, "loc-0.jpg") == 0,
	    "image_write: only the image in the new directory (%s)", names);

	err[0] = '\0';
	rc = image_write("/nonexistent/dir", "x.jpg", data, 10, err, sizeof(err));
	ok(rc == -1, "image_write: a directory under a missing parent is an error");
	ok(strstr(err, "dir/x.jpg") != NULL && strstr(err, "/nonexistent") == NULL,
	    "image_write: the error names the case's file, not the server's path (%s)",
	    err);

	snprintf(path, sizeof(path), "%s/loc-0.jpg", sub);
	unlink(path);
	rmdir(sub);
	snprintf(path, sizeof(path), "%s/ev-0.jpg", tmpl);
	unlink(path);
	rmdir(tmpl);
}

/* A w x h PNG of a noisy gradient, with the color type, depth and interlacing asked for. */
static unsigned char *
make_png(size_t w, size_t h, const char *color_type, const char *depth, int interlace,
    size_t *len)
{
	MagickWand *mw = NewMagickWand();
	unsigned char *copy = NULL;
	*len = 0;
	if (MagickSetSize(mw, w, h) && MagickReadImage(mw, "gradient:#402010-#c0e0f0") &&
	    MagickAddNoiseImage(mw, GaussianNoise) &&
	    (strcmp(color_type, "3") != 0 ||	/* a palette holds 256 colours at most */
	    MagickQuantizeImage(mw, 200, sRGBColorspace, 0, MagickFalse, MagickFalse)) &&
	    MagickSetOption(mw, "png:color-type", color_type) &&
	    MagickSetOption(mw, "png:bit-depth", depth) &&
	    MagickSetInterlaceScheme(mw, interlace ? PlaneInterlace : NoInterlace) &&
	    MagickSetImageInterlaceScheme(mw, interlace ? PlaneInterlace : NoInterlace) &&
	    MagickSetImageFormat(mw, "PNG")) {
		copy = wand_blob(mw, len);
	}
	DestroyMagickWand(mw);
	return copy;
}

/* The largest difference of any sample from what ImageMagick's ScaleImage makes. */
static int
scale_difference(const unsigned char *png, size_t len, const unsigned char *rgb, size_t w,
    size_t h)
{
	MagickWand *mw = NewMagickWand();
	unsigned char *want = malloc(w * h * 3);
	int worst = 256;
	if (want != NULL && MagickReadImageBlob(mw, png, len) && MagickScaleImage(mw, w, h) &&
	    MagickExportImagePixels(mw, 0, 0, w, h, "RGB", CharPixel, want)) {
		worst = 0;
		for (size_t i = 0; i < w * h * 3; i++) {
			int d = abs((int)want[i] - (int)rgb[i]);
			worst = d > worst ? d : worst;
		}
	}
	free(want);
	DestroyMagickWand(mw);
	return worst;
}

static void
shrink_case(const char *what, const char *color_type, const char *depth, int interlace)
{
	size_t len, w = 0, h = 0;
	unsigned char *png = make_png(1024, 768, color_type, depth, interlace, &len), *rgb = NULL;
	char err[256] = "";
	int rc = png ? shrink_png(png, len, 384, &rgb, &w, &h, err, sizeof(err)) : -2;
	if (interlace) {
		ok(rc == 0, "shrink_png: an interlaced PNG is left to MagickWand (%d)", rc);
	} else {
		ok(rc == 1 && w == 512 && h == 384,
		    "shrink_png: a 1024x768 %s PNG shrinks by 2 to %zux%zu (%d %s)", what, w, h,
		    rc, err);
		int diff = rc == 1 ? scale_difference(png, len, rgb, w, h) : 256;
		ok(diff <= 1, "shrink_png: %s: every sample within 1 of ScaleImage's (%d)", what,
		    diff);
	}
	free(rgb);
	free(png);
}

static void
test_shrink(void)
{
	shrink_case("RGB", "2", "8", 0);
	shrink_case("16-bit RGB", "2", "16", 0);
	shrink_case("RGBA", "6", "8", 0);
	shrink_case("gray", "0", "8", 0);
	shrink_case("palette", "3", "8", 0);
	shrink_case("interlaced", "2", "8", 1);

	size_t len, w, h;
	unsigned char *png = make_png(1024, 1024, "2", "8", 0, &len), *rgb = NULL;
	char err[256] = "";
	int rc = shrink_png(png, len, 300, &rgb, &w, &h, err, sizeof(err));
	ok(rc == 0, "shrink_png: 1024 to 300 is no whole factor: left to MagickWand (%d)", rc);
	rc = shrink_png(png, len, 256, &rgb, &w, &h, err, sizeof(err));
	ok(rc == 1 && w == 256 && h == 256, "shrink_png: 1024 to 256, a factor of 4 (%zux%zu)",
	    w, h);
	free(rgb);
	rgb = NULL;
	err[0] = '\0';
	rc = shrink_png(png, len / 2, 512, &rgb, &w, &h, err, sizeof(err));
	ok(rc == -1 && rgb == NULL, "shrink_png: half a PNG is an error, nothing returned");
	ok(strncmp(err, "decode: PNG: ", 13) == 0, "shrink_png: ... saying why (%s)", err);
	/* After IHDR, a text chunk declaring 1.6 GB: refused, not allocated. */
	unsigned char huge[33 + 12];
	memcpy(huge, png, 33);
	memcpy(huge + 33, "\x60\x00\x00\x00tEXtabcd", 12);
	err[0] = '\0';
	rc = shrink_png(huge, sizeof(huge), 512, &rgb, &w, &h, err, sizeof(err));
	ok(rc == -1 && err[0] != '\0', "shrink_png: a chunk declaring 1.6 GB is an error (%s)",
	    err);
	memset(png + 100, 0x5a, 64);	/* inside the image data: a CRC or zlib error */
	err[0] = '\0';
	rc = shrink_png(png, len, 512, &rgb, &w, &h, err, sizeof(err));
	ok(rc == -1 && err[0] != '\0', "shrink_png: a corrupt PNG is an error (%s)", err);
	free(png);
}

static void
test_image(void)
{
	unsigned char *out = NULL;
	size_t outlen = 0, len;
	char err[512];

	image_init();
	compress_case("PNG", 800, 600, 512, 80);
	compress_case("PNG", 1024, 1024, 512, 80);	/* shrink_png's path: 2 to 1 */
	compress_case("PNG", 2048, 1024, 512, 80);	/* shrunk by 2, then cropped */
	compress_case("PNG", 600, 800, 512, 80);
	compress_case("JPEG", 1024, 1024, 512, 80);
	compress_case("PNG", 300, 200, 256, 50);
	compress_case("JPEG", 1600, 900, 512, 80);
	compress_case("JPEG", 300, 200, 512, 80);
	compress_case("WEBP", 640, 480, 512, 80);

	static const char junk[] = "not an image, just some text";
	err[0] = '\0';
	int rc = image_compress((const unsigned char *)junk, sizeof(junk) - 1, 512, 80, &out,
	    &outlen, err, sizeof(err));
	ok(rc == -1, "image_compress: text is not an image");
	ok(strstr(err, "PNG") != NULL && strstr(err, "JPEG") != NULL,
	    "image_compress: the error names the formats (%s)", err);
	if (rc == 0)
		free(out);

	unsigned char *png = make_picture("PNG", 800, 600, &len);
	if (png != NULL && len > 100) {
		err[0] = '\0';
		out = NULL;
		rc = image_compress(png, 100, 512, 80, &out, &outlen, err, sizeof(err));
		ok(rc == -1, "image_compress: a PNG truncated to 100 bytes is an error (%s)", err);
		ok(err[0] != '\0', "image_compress: the truncated PNG has a message");
		if (rc == 0)
			free(out);
		err[0] = '\0';
		rc = image_compress(png, 8, 512, 80, &out, &outlen, err, sizeof(err));
		ok(rc == -1, "image_compress: a bare PNG signature is an error (%s)", err);
		if (rc == 0)
			free(out);
	}
	free(png);

	test_image_write();
	test_shrink();
	image_done();
}

/* The Standard Webhooks 1.0 specification's own example must sign as it says. */
static void
test_sign(void)
{
	unsigned char key[SIGN_KEY_MAX];
	size_t keylen = 0;
	char sig[SIGN_B64_LEN];
	const char *body = "{\"test\": 2432232314}";

	ok(sign_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key, &keylen) == 0 &&
	    keylen == 24, "sign: the spec's whsec_ secret decodes to 24 bytes");
	ok(sign_compute(key, keylen, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330LL, body,
	    strlen(body), sig) == 0, "sign: computes");
	is_str(sig, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	    "sign: the spec's example signature");
	sign_compute(key, keylen, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331LL, body,
	    strlen(body), sig);
	ok(strcmp(sig, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") != 0,
	    "sign: another timestamp, another signature");
	ok(sign_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key, &keylen) != 0,
	    "sign: a secret without whsec_ is refused");
	ok(sign_secret("whsec_c2hvcnQ=", key, &keylen) != 0,
	    "sign: a key shorter than 16 bytes is refused");
	ok(sign_secret("whsec_!!!", key, &keylen) != 0, "sign: bad base64 is refused");
}

static void
test_input(void)
{
	char err[128];
	static const struct { const char *body; int ok; const char *what; } cases[] = {
		{ "{\"a\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x8d\"}", 1, "UTF-8 of 2, 3 and 4 bytes" },
		{ "{\"a\":\"caf\xe9\"}", 0, "a Latin-1 byte" },
		{ "{\"a\":\"\xc0\xaf\"}", 0, "an overlong /" },
		{ "{\"a\":\"\xe0\x80\xaf\"}", 0, "an overlong 3-byte form" },
		{ "{\"a\":\"\xed\xa0\x80\"}", 0, "a UTF-16 surrogate" },
		{ "{\"a\":\"\xf4\x90\x80\x80\"}", 0, "a code point past U+10FFFF" },
		{ "{\"a\":\"\xe2\x82\"}", 0, "a truncated sequence" },
		{ "[[[[[[[[1]]]]]]]]", 1, "depth 8" },
		{ "[[[[[[[[[1]]]]]]]]]", 0, "depth 9" },
		{ "{\"a\":\"[[[[[[[[[[[[\"}", 1, "brackets inside a string do not nest" },
		{ "{\"a\":\"\\\"[[[[[[[[[[\"}", 1, "nor after an escaped quote" },
		{ "{\"a\":\"x\\u0000y\"}", 0, "an escaped NUL" },
		{ "{\"a\":\"x\\\\u0000y\"}", 1, "an escaped backslash, then u0000" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok((input_check(cases[i].body, strlen(cases[i].body), 8, err, sizeof(err)) == 0) ==
		    cases[i].ok, "input_check: %s %s", cases[i].what,
		    cases[i].ok ? "passes" : "is refused");
	static const char raw[] = "{\"a\":\"x\0y\"}";
	ok(input_check(raw, sizeof(raw) - 1, 8, err, sizeof(err)) != 0,
	    "input_check: a raw NUL is refused");
}

static size_t
put_segment(unsigned char *p, unsigned m, const unsigned char *body, size_t n)
{
	p[0] = 0xFF;
	p[1] = (unsigned char)m;
	p[2] = (unsigned char)((n + 2) >> 8);
	p[3] = (unsigned char)(n + 2);
	memcpy(p + 4, body, n);
	return n + 4;
}

/* A JPEG's header up to its first scan: SOF marker sof, 3 components, ns in the scan. */
static size_t
jpeg_header(unsigned char *p, unsigned sof, unsigned side, unsigned char sampling, int ns)
{
	unsigned char frame[] = { 8, side >> 8, side & 255, side >> 8, side & 255, 3,
		1, sampling, 0, 2, 0x11, 0, 3, 0x11, 0 };
	unsigned char scan[] = { (unsigned char)ns, 1, 0, 2, 0, 3, 0, 0, 63, 0 };
	static const unsigned char app[] = { 'J', 'F', 'I', 'F', 0 };
	size_t n = 2;
	p[0] = 0xFF;
	p[1] = 0xD8;
	n += put_segment(p + n, 0xE0, app, sizeof(app));
	p[n++] = 0x42;	/* a stray byte, which libjpeg skips */
	n += put_segment(p + n, sof, frame, sizeof(frame));
	n += put_segment(p + n, 0xDA, scan, 1 + 2 * (size_t)ns + 3);
	return n;
}

static void
test_decodecost(void)
{
	unsigned char buf[256];
	struct decode_header h;
	size_t n = jpeg_header(buf, 0xC2, 8192, 0x11, 3);
	ok(decodecost_jpeg(buf, n, &h) == 0 && h.width == 8192 && h.multiscan &&
	    h.coefficients == (size_t)8192 * 8192 * 3 * 2,
	    "decodecost: a progressive 8192x8192 4:4:4 JPEG holds 384 MiB of coefficients (%zu)",
	    h.coefficients);
	ok(decodecost_bytes("JPEG", &h, 512, 0) > IMAGE_DECODE_BUDGET,
	    "decodecost: ... over the decode budget");
	n = jpeg_header(buf, 0xC0, 8192, 0x22, 3);
	ok(decodecost_jpeg(buf, n, &h) == 0 && !h.multiscan && h.coefficients == 0,
	    "decodecost: a baseline interleaved JPEG keeps no coefficients");
	ok(decodecost_bytes("JPEG", &h, 512, 0) < 16u << 20,
	    "decodecost: ... and an 8192x8192 one, shrunk on load, costs under 16 MiB (%zu)",
	    decodecost_bytes("JPEG", &h, 512, 0));
	n = jpeg_header(buf, 0xC0, 2048, 0x11, 1);
	ok(decodecost_jpeg(buf, n, &h) == 0 && h.multiscan &&
	    h.coefficients == (size_t)2048 * 2048 * 3 * 2,
	    "decodecost: a sequential JPEG whose first scan has one component is multi-scan");
	ok(decodecost_jpeg(buf, 20, &h) != 0, "decodecost: a JPEG cut before its scan is refused");
	struct decode_header png = { .width = 2048, .height = 2048 };
	ok(decodecost_bytes("PNG", &png, 512, 1) < 8u << 20 &&
	    decodecost_bytes("PNG", &png, 512, 0) < IMAGE_DECODE_BUDGET,
	    "decodecost: Imagen's 2048 PNG fits, shrunk or interlaced");
}

static void
test_imageurl(void)
{
	struct config cfg;
	char err[256];
	config_defaults(&cfg);
	free(cfg.image_url_allow);
	cfg.image_url_allow = strdup("https://cdn.example/img/");
	static const struct { const char *url; enum imageurl want; } cases[] = {
		{ "/media/c-1/ev-0.jpg", IMAGEURL_MEDIA },
		{ "/media/c-1/ev-0-0123abcdef.jpg", IMAGEURL_MEDIA },
		{ "/media/c-2/ev-0.jpg", IMAGEURL_BAD },
		{ "/media/c-1/../c-2/ev-0.jpg", IMAGEURL_BAD },
		{ "/media/c-1/ev-0.png", IMAGEURL_BAD },
		{ "https://cdn.example/img/x.jpg", IMAGEURL_REMOTE },
		{ "https://cdn.example/imgx/x.jpg", IMAGEURL_BAD },
		{ "https://cdn.example.evil/img/x.jpg", IMAGEURL_BAD },
		{ "https://cdn.example/img/x y.jpg", IMAGEURL_BAD },
		{ "javascript:alert(1)//https://cdn.example/img/", IMAGEURL_BAD },
		{ "data:image/png;base64,AAAA", IMAGEURL_DATA },
		{ "data:image/png;base64,AAA", IMAGEURL_BAD },
		{ "data:image/svg+xml;base64,AAAA", IMAGEURL_BAD },
		{ "data:image/png;base64,AA=A", IMAGEURL_BAD },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(imageurl_check(&cfg, "c-1", cases[i].url, err, sizeof(err)) == cases[i].want,
		    "imageurl: %s is %s", cases[i].url, cases[i].want == IMAGEURL_BAD ? "refused"
		    : "taken");
	ok(imageurl_allow_valid("https://a.example/ http://b.example/x/") &&
	    !imageurl_allow_valid("https://a.example") && !imageurl_allow_valid("https:///") &&
	    !imageurl_allow_valid("ftp://a.example/"), "imageurl: image_url_allow's prefixes");
	config_free(&cfg);
}

int
main(void)
{
	struct config cfg;

	config_defaults(&cfg);
	test_casereq_valid(&cfg);
	test_casereq_reject(&cfg);
	test_casereq_valid_id();
	config_free(&cfg);
	test_progress();
	test_config();
	test_gemini_request();
	test_gemini();
	test_provider_errors();
	test_provider_text();
	test_provider_config();
	test_codec();
	test_jobjson();
	test_image();
	test_sign();
	test_input();
	test_decodecost();
	test_imageurl();
	return done_testing();
}

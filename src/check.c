/*
 * check.c: `imagegen check [--generate PATH]`, for the operator after an
 * install or a change of keys: for each configured provider, does the key
 * work and is the model listed and able to make images, asked of the
 * provider's free model list. --generate makes one real (paid) picture.
 * Each result is kept (provider_checks), so that the FastCGI responder
 * can warn at start-up when the last check failed, or none was run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check.h"
#include "codec.h"
#include "config.h"
#include "log.h"
#include "provider.h"
#include "store_provider.h"

#define CHECK_PROMPT "Evidence photography: a brass magnifying glass. " \
	"On an oak desk. Clear detail, forensic quality, neutral background."

/* One blocking exchange: a model list (prompt NULL) or one picture. */
static void
ask(const struct provider *p, const struct config *cfg, const char *prompt,
    struct provider_answer *a, struct provider_call *c)
{
	int rc = prompt ? provider_start(c, p, cfg, prompt) : provider_start_list(c, p, cfg);
	provider_answer_init(a);
	if (rc != 0) {
		provider_say(a, PV_FAILED, "cannot build the request");
		return;
	}
	provider_finish(c, p, cfg, curl_easy_perform(c->easy), a);
}

/* 1 when the key works and the model is listed and makes images; why says what. */
static int
check_list(const struct provider *p, const struct config *cfg, char *why, size_t whylen)
{
	struct provider_call c;
	struct provider_answer a;
	long code = 0;
	int ok = 0;
	ask(p, cfg, NULL, &a, &c);
	if (c.easy != NULL)
		curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &code);
	/* A model list is a 200 with JSON, not a picture: parse's verdict is no guide. */
	if (code == 200) {
		ok = p->list_has_model(cfg, c.resp ? c.resp : "", c.resp_len, why, whylen);
		if (ok && strstr(provider_model(p, cfg), "image") == NULL &&
		    strcmp(p->name, "gemini") == 0) {
			snprintf(why, whylen, "%s %s is listed but is not an image model",
			    p->model_setting, provider_model(p, cfg));
			ok = 0;
		} else if (ok) {
			snprintf(why, whylen, "key accepted, %s listed", provider_model(p, cfg));
		}
	} else {
		snprintf(why, whylen, "the model list: %.400s", a.err);
	}
	free(a.img);
	provider_free(&c);
	return ok;
}

static int
check_one(const struct provider *p, const struct config *cfg, char *why, size_t whylen)
{
	const char *key = provider_key(p, cfg);
	if (p->render != NULL) {
		snprintf(why, whylen, "offline placeholders, no key needed");
		return 1;
	}
	if (key != NULL && *key == '\0') {
		snprintf(why, whylen, "no key: set %s", p->key_setting);
		return 0;
	}
	if (p->list_request == NULL) {
		snprintf(why, whylen, "no free model list to ask: --generate tries it for real");
		return 1;
	}
	return check_list(p, cfg, why, whylen);
}

/* Written whole or not at all: a temporary file renamed into place. */
static int
write_picture(const char *path, const unsigned char *img, size_t len)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	FILE *f = fopen(tmp, "wbe");
	int ok = f != NULL && fwrite(img, 1, len, f) == len;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (ok && rename(tmp, path) == 0)
		return 0;
	fprintf(stderr, "imagegen: %s: %s\n", path, strerror(errno));
	unlink(tmp);
	return -1;
}

/* One real picture from the first provider that passed, written to path. */
static int
generate(const struct config *cfg, const int *passed, const char *path)
{
	for (int i = 0; i < provider_count(cfg); i++) {
		const struct provider *p = provider_at(cfg, i);
		struct provider_answer a;
		struct provider_call c = { 0 };
		if (!passed[i])
			continue;
		if (p->render != NULL) {
			provider_answer_init(&a);
			p->render(cfg, CHECK_PROMPT, &a);
		} else {
			ask(p, cfg, CHECK_PROMPT, &a, &c);
		}
		provider_free(&c);
		int rc = a.verdict == PV_OK ? write_picture(path, a.img, a.len) : -1;
		if (a.verdict == PV_OK && rc == 0)
			printf("%s: generated %s (%zu bytes)\n", p->name, path, a.len);
		else if (a.verdict != PV_OK)
			printf("%s: FAILED: generate: %s\n", p->name, a.err);
		free(a.img);
		return rc;
	}
	printf("generate: FAILED: no provider passed its check\n");
	return -1;
}

int
check_command(const struct config *cfg, int argc, char **argv)
{
	const char *out = NULL;
	int passed[MAX_PROVIDERS] = { 0 }, bad = 0;
	if (argc == 3 && strcmp(argv[1], "--generate") == 0 && *argv[2] != '\0')
		out = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: imagegen check [--generate PATH]\n");
		return 2;
	}
	for (int i = 0; i < provider_count(cfg); i++) {
		const struct provider *p = provider_at(cfg, i);
		struct check_row row = { .checked_at = codec_now_ms() };
		row.ok = passed[i] = check_one(p, cfg, row.detail, sizeof(row.detail));
		snprintf(row.provider, sizeof(row.provider), "%s", p->name);
		snprintf(row.model, sizeof(row.model), "%s", provider_model(p, cfg));
		printf("%s: %s: %s\n", p->name, row.ok ? "ok" : "FAILED", row.detail);
		bad |= !row.ok;
		if (store_check_record(&row) != 0)
			fprintf(stderr, "imagegen: cannot record the check in %s\n", cfg->database);
	}
	if (out != NULL && generate(cfg, passed, out) != 0)
		bad = 1;
	return bad ? 1 : 0;
}

/* At a responder's start: the operator learns of a bad key before the players do. */
void
check_warn(const struct config *cfg)
{
	for (int i = 0; i < provider_count(cfg); i++) {
		const struct provider *p = provider_at(cfg, i);
		struct check_row row;
		int found = store_check_last(p->name, &row);
		if (found == 0)
			log_warn("check: `imagegen check` was never run for provider %s: run it "
			    "after installing or changing keys", p->name);
		else if (found == 1 && !row.ok)
			log_warn("check: the last `imagegen check` of provider %s failed: %s",
			    p->name, row.detail);
		else if (found == 1 && strcmp(row.model, provider_model(p, cfg)) != 0)
			log_warn("check: `imagegen check` last checked %s model %s, not %s: run "
			    "it again", p->name, row.model, provider_model(p, cfg));
	}
}

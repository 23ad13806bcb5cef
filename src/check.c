/*
 * check.c: `imagegen check [--generate PATH]`, for the operator after an
 * install or a change of keys, and once a day from the reaper: for each
 * configured model of each provider, is it listed in the provider's free
 * model list, can it make images, and when does it retire. --generate
 * makes one real (paid) picture. Each result is kept (provider_checks),
 * so that the FastCGI responder can warn at start-up when the last check
 * failed, or none was run.
 */
#include <errno.h>
#include <stdarg.h>
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
#include "store.h"
#include "store_provider.h"

#define CHECK_PROMPT "Evidence photography: a brass magnifying glass. " \
	"On an oak desk. Clear detail, forensic quality, neutral background."
#define SOON_MS (30LL * 86400 * 1000)	/* a retirement this near is a problem now */
#define DAY_MS (86400LL * 1000)

/* The free model list of one provider, asked once for all its models. */
struct listing {
	int ok;			/* a list came */
	char *body;
	size_t len;
	char why[460];		/* when it did not */
};

static void
fetch_list(const struct provider *p, const struct config *cfg, struct listing *li)
{
	struct provider_call c;
	struct provider_answer a;
	long code = 0;
	memset(li, 0, sizeof(*li));
	provider_answer_init(&a);
	if (provider_start_list(&c, p, cfg) != 0) {
		snprintf(li->why, sizeof(li->why), "cannot build the request");
		provider_free(&c);
		return;
	}
	provider_finish(&c, p, cfg, provider_model(p, cfg), curl_easy_perform(c.easy), &a);
	curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &code);
	/* A model list is a 200 with JSON, not a picture: parse's verdict is no guide. */
	if (code == 200 && c.resp != NULL) {
		li->ok = 1;
		li->body = c.resp;
		li->len = c.resp_len;
		c.resp = NULL;
	} else {
		snprintf(li->why, sizeof(li->why), "the model list: %.400s", a.err);
	}
	free(a.img);
	provider_free(&c);
}

static void
day(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, len, "?");
}

/* One model's verdict: a problem, and the line that says it. */
struct report {
	int problem;
	char detail[512];
};

static void
say(struct report *r, int problem, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
say(struct report *r, int problem, const char *fmt, ...)
{
	size_t n = strlen(r->detail);
	va_list ap;
	va_start(ap, fmt);
	if (n + 2 < sizeof(r->detail)) {
		if (n > 0)
			memcpy(r->detail + n, "; ", 3), n += 2;
		vsnprintf(r->detail + n, sizeof(r->detail) - n, fmt, ap);
	}
	va_end(ap);
	r->problem |= problem;
}

/*
 * Listed, taking the image request, making images: what the list says of
 * the model (never its name), and what this database has seen it do.
 */
static void
judge_listing(const struct provider_stage *st, const struct provider_listing *l,
    const struct model_row *k, struct report *r)
{
	const char *set = st->p->model_setting;
	if (!l->listed) {
		say(r, 1, "not in the model list: retired, misspelt, or not open to this key "
		    "(change %s)", set);
		return;
	}
	if (!l->generates) {
		say(r, 1, "listed, but it takes no generateContent (change %s)", set);
		return;
	}
	if (l->images == 1 || (l->images == -1 && strcmp(k->retired_kind, "no-images") != 0))
		say(r, 0, "listed%s", l->images == 1 ? ", makes images" : "");
	else if (k->made_images)
		say(r, 0, "listed, has made images here");
	else
		say(r, 1, "listed, but the list does not say it makes images and it has made "
		    "none here (change %s)", set);
}

/* A mark the provider has since taken back is cleared: the model works again. */
static void
judge_mark(const struct provider_stage *st, const struct provider_listing *l,
    struct model_row *k, struct report *r)
{
	char when[16];
	if (k->retired_at == 0)
		return;
	day(k->retired_at, when, sizeof(when));
	int back = l != NULL && l->listed && l->generates && (strcmp(k->retired_kind,
	    "retired") == 0 || l->images == 1);
	if (back && store_model_clear(st->p->name, st->model) >= 0) {
		say(r, 0, "marked %s on %s, listed again: cleared", k->retired_kind, when);
		k->retired_at = 0;
		return;
	}
	say(r, 1, "marked %s on %s: %.200s (change %s)", k->retired_kind, when,
	    k->retired_reason, st->p->model_setting);
}

/* The retirement announced, by the list (OpenAI) or by the answers (Gemini's modelStatus). */
static void
judge_retirement(const struct provider_stage *st, int64_t retires_at, const char *stage,
    int64_t now, struct report *r)
{
	char when[16];
	const char *sep = *stage ? ", " : "";
	if (retires_at == 0) {
		say(r, 0, "%s%sno retirement announced", stage, sep);
		return;
	}
	day(retires_at, when, sizeof(when));
	if (retires_at <= now)
		say(r, 1, "%s%sretired on %s, as announced (change %s)", stage, sep, when,
		    st->p->model_setting);
	else if (retires_at - now < SOON_MS)
		say(r, 1, "%s%sretires on %s (in %lld days): change %s before then", stage, sep,
		    when, (long long)((retires_at - now + DAY_MS - 1) / DAY_MS),
		    st->p->model_setting);
	else
		say(r, 0, "%s%sretires on %s", stage, sep, when);
}

static void
judge(const struct provider_stage *st, const struct listing *li, int64_t now,
    struct report *r)
{
	struct model_row k;
	struct provider_listing l, *lp = NULL;
	memset(r, 0, sizeof(*r));
	memset(&k, 0, sizeof(k));
	if (store_model_get(st->p->name, st->model, &k) != 0)
		say(r, 1, "cannot read what the store knows of it");
	if (!li->ok) {
		say(r, 1, "%s", li->why);
	} else if (st->p->list_model(li->body, li->len, st->model, &l) != 0) {
		say(r, 1, "the model list is not one");
	} else {
		judge_listing(st, &l, &k, r);
		lp = &l;
	}
	judge_mark(st, lp, &k, r);
	if (lp != NULL && l.retires_at != 0 && l.retires_at != k.retires_at &&
	    store_model_note(st->p->name, st->model, k.stage, l.retires_at, now) != 0)
		say(r, 1, "cannot record its announced retirement");
	if (lp != NULL ? l.listed : k.retires_at != 0)
		judge_retirement(st, lp != NULL && l.retires_at ? l.retires_at : k.retires_at,
		    k.stage, now, r);
}

typedef void heard(const struct provider_stage *st, const struct report *r, void *arg);

/* One provider's models, each judged and recorded; fn hears each. */
static int
check_provider(const struct config *cfg, int pos, heard *fn, void *arg)
{
	struct provider_stage all[MAX_STAGES];
	struct listing li;
	int n = provider_stages(cfg, all), bad = 0;
	const struct provider *p = provider_at(cfg, pos);
	const char *key = provider_key(p, cfg);
	memset(&li, 0, sizeof(li));
	if (key != NULL && *key == '\0')
		snprintf(li.why, sizeof(li.why), "no key: set %s", p->key_setting);
	else if (p->list_request != NULL)
		fetch_list(p, cfg, &li);
	for (int i = 0; i < n; i++) {
		struct report r;
		struct check_row row = { .checked_at = codec_now_ms() };
		if (all[i].pos != pos)
			continue;
		if (p->render != NULL)
			r = (struct report){ 0, "offline placeholders, no key needed" };
		else
			judge(&all[i], &li, row.checked_at, &r);
		fn(&all[i], &r, arg);
		bad |= r.problem;
		row.ok = !r.problem;
		snprintf(row.provider, sizeof(row.provider), "%s", p->name);
		snprintf(row.model, sizeof(row.model), "%s", all[i].model);
		snprintf(row.detail, sizeof(row.detail), "%s", r.detail);
		if (store_check_record(&row) != 0)
			log_error("check: cannot record the check of %s model %s", p->name,
			    all[i].model);
	}
	free(li.body);
	return bad;
}

/* What the command prints, and the first model that passed, for --generate. */
struct printed {
	struct provider_stage first_ok;
	int any_ok;
};

static void
print_report(const struct provider_stage *st, const struct report *r, void *arg)
{
	struct printed *out = arg;
	printf("%s %s: %s: %s\n", st->p->name, st->model, r->problem ? "FAILED" : "ok",
	    r->detail);
	if (!r->problem && !out->any_ok) {
		out->first_ok = *st;
		out->any_ok = 1;
	}
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

/* One real picture from the first model that passed, written to path. */
static int
generate(const struct config *cfg, const struct printed *passed, const char *path)
{
	const struct provider *p = passed->first_ok.p;
	struct provider_answer a;
	struct provider_call c = { 0 };
	const char *model = passed->first_ok.model;
	if (!passed->any_ok) {
		printf("generate: FAILED: no model passed its check\n");
		return -1;
	}
	provider_answer_init(&a);
	if (p->render != NULL)
		p->render(cfg, CHECK_PROMPT, &a);
	else if (provider_start(&c, p, cfg, model, CHECK_PROMPT) != 0)
		provider_say(&a, PV_FAILED, "cannot build the request");
	else
		provider_finish(&c, p, cfg, model, curl_easy_perform(c.easy), &a);
	provider_free(&c);
	int rc = a.verdict == PV_OK ? write_picture(path, a.img, a.len) : -1;
	if (a.verdict == PV_OK && rc == 0)
		printf("%s %s: generated %s (%zu bytes)\n", p->name, model, path, a.len);
	else if (a.verdict != PV_OK)
		printf("%s %s: FAILED: generate: %s\n", p->name, model, a.err);
	free(a.img);
	return rc;
}

int
check_command(const struct config *cfg, int argc, char **argv)
{
	const char *out = NULL;
	struct printed passed = { .any_ok = 0 };
	int bad = 0;
	if (argc == 3 && strcmp(argv[1], "--generate") == 0 && *argv[2] != '\0')
		out = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: imagegen check [--generate PATH]\n");
		return 2;
	}
	for (int i = 0; i < provider_count(cfg); i++)
		bad |= check_provider(cfg, i, print_report, &passed);
	if (out != NULL && generate(cfg, &passed, out) != 0)
		bad = 1;
	return bad ? 1 : 0;
}

static void
log_problem(const struct provider_stage *st, const struct report *r, void *arg)
{
	(void)arg;
	if (r->problem)
		log_warn("check: %s model %s: %s", st->p->name, st->model, r->detail);
}

/*
 * From the reaper: the same free check, at most once per check_interval
 * (a day) per provider across every process, for providers that have a
 * key; one warning line per problem (what retires when, and the setting
 * to change).
 */
void
check_daily(const struct config *cfg)
{
	for (int i = 0; cfg->check_interval > 0 && i < provider_count(cfg); i++) {
		const struct provider *p = provider_at(cfg, i);
		const char *key = provider_key(p, cfg);
		char task[64];
		if (p->list_request == NULL || key == NULL || *key == '\0')
			continue;
		snprintf(task, sizeof(task), "check:%s", p->name);
		if (store_maintenance_due(task, codec_now_ms(), cfg->check_interval * 1000) == 1)
			(void)check_provider(cfg, i, log_problem, NULL);
	}
}

/* At a responder's start: the operator learns of a bad key before the players do. */
void
check_warn(const struct config *cfg)
{
	struct provider_stage all[MAX_STAGES];
	int n = provider_stages(cfg, all);
	for (int i = 0; i < n; i++) {
		struct check_row row;
		int found = all[i].p->render != NULL ? 1 :
		    store_check_last(all[i].p->name, all[i].model, &row);
		if (found == 0)
			log_warn("check: `imagegen check` was never run for %s model %s: run it "
			    "after installing or changing keys or models", all[i].p->name,
			    all[i].model);
		else if (found == 1 && all[i].p->render == NULL && !row.ok)
			log_warn("check: the last `imagegen check` of %s model %s failed: %s",
			    all[i].p->name, all[i].model, row.detail);
	}
}

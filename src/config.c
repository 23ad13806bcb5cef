/* config.c: parse imagegen.conf, "name = value" lines, into struct config. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "provider.h"
#include "sign.h"
#include "store.h"
#include "urlmatch.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/usr/local/etc"
#endif

static const char *const urls_words[] = { "path", "data", NULL };
static const char *const media_words[] = { "auto", "files", "database", NULL };
static const char *const status_auth_words[] = { "public", "token", NULL };
static const char *const yesno_words[] = { "no", "yes", NULL };
static const char *const level_words[] = { "debug", "info", "warn", "error", NULL };
static const char *const onoff_words[] = { "off", "on", NULL };

/* Scaling out is hosts alike on one PostgreSQL database now (imagegen(8), SCALING OUT). */
#define DISPATCH_GONE "the state host's dispatch to worker hosts is gone: every host runs " \
	"the same imagegen against one PostgreSQL database (database = postgresql://...; " \
	"imagegen(8), SCALING OUT)"

/* Google shut Imagen down on both of its APIs on that day (imagegen.conf(5)). */
#define IMAGEN_GONE "Imagen was shut down by Google on 2026-08-17 (the Gemini API and " \
	"Vertex AI alike); Gemini's image models replace it (provider = gemini, the default)"

#define S(f) offsetof(struct config, f)
/* Alphabetical, as imagegen.conf(5) lists them. */
static const struct config_key keys[] = {
	{ "api_tokens", K_SECRET, S(api_tokens), 0, 0, NULL, "", NULL },
	{ "api_tokens_file", K_OPTPATH, S(api_tokens_file), 0, 0, NULL, "", NULL },
	{ "check_interval", K_INT, S(check_interval), 0, 2592000, NULL, "86400", NULL },
	{ "concurrency", K_INT, S(concurrency), 1, 64, NULL, "5", NULL },
	{ "connect_timeout", K_INT, S(connect_timeout), 1, 300, NULL, "10", NULL },
	{ "database", K_DATABASE, S(database), 0, 0, NULL, "/var/lib/imagegen/imagegen.db", NULL },
	{ "evidence_prompt", K_STR, S(evidence_prompt), 0, 0, NULL,
	  "Evidence photography: {name}. {description}. Clear detail, "
	  "forensic quality, neutral background.", NULL },
	{ "failover_on_refusal", K_ENUM, S(failover_on_refusal), 0, 0, yesno_words, "no", NULL },
	{ "heartbeat_interval", K_INT, S(heartbeat_interval), 1, 3600, NULL, "5", NULL },
	{ "host_id", K_STR, S(host_id), 0, 0, NULL, "", NULL },
	{ "host_max_jobs", K_INT, S(host_max_jobs), 0, 100000, NULL, "0", NULL },
	{ "image_quality", K_INT, S(image_quality), 1, 100, NULL, "80", NULL },
	{ "image_size", K_INT, S(image_size), 16, 4096, NULL, "512", NULL },
	{ "image_url_allow", K_STR, S(image_url_allow), 0, 0, NULL, "", NULL },
	{ "image_urls", K_ENUM, S(image_urls), 0, 0, urls_words, "path", NULL },
	{ "input_timeout", K_INT, S(input_timeout), 1, 3600, NULL, "10", NULL },
	{ "job_deadline", K_INT, S(job_deadline), 1, 86400, NULL, "300", NULL },
	{ "local_delay", K_INT, S(local_delay), 0, 600000, NULL, "0", NULL },
	{ "location_prompt", K_STR, S(location_prompt), 0, 0, NULL,
	  "Atmospheric environmental photography: {name}. {description}. "
	  "Film noir aesthetic, dramatic lighting, moody atmosphere, empty location.", NULL },
	{ "log", K_STR, S(log), 0, 0, NULL, "stderr", NULL },
	{ "log_level", K_ENUM, S(log_level), 0, 0, level_words, "info", NULL },
	{ "max_answer", K_INT, S(max_answer), 65536, 1073741824, NULL, "67108864", NULL },
	{ "max_body", K_INT, S(max_body), 1024, 16777216, NULL, "262144", NULL },
	{ "max_depth", K_INT, S(max_depth), 2, 64, NULL, "8", NULL },
	{ "max_description", K_INT, S(max_description), 1, 65536, NULL, "2000", NULL },
	{ "max_inflight", K_INT, S(max_inflight), 1, 1024, NULL, "8", NULL },
	{ "max_items", K_INT, S(max_items), 1, 1000, NULL, "32", NULL },
	{ "max_name", K_INT, S(max_name), 1, 4096, NULL, "200", NULL },
	{ "max_webhook_body", K_INT, S(max_webhook_body), 1024, 67108864, NULL, "8388608", NULL },
	{ "media_dir", K_PATH, S(media_dir), 0, 0, NULL, "/var/lib/imagegen/media", NULL },
	{ "media_store", K_ENUM, S(media_store), 0, 0, media_words, "auto", NULL },
	{ "media_url", K_STR, S(media_url), 0, 0, NULL, "/media/", NULL },
	/* Each is the default model's, with its source in imagegen.conf(5). */
	{ "price_per_image", K_STR, S(price_per_image), 0, 0, NULL,
	  "gemini:0.0336 openai:0.0317 local:0", NULL },
	{ "price_per_mtok", K_STR, S(price_per_mtok), 0, 0, NULL, "gemini:30 openai:30", NULL },
	{ "provider", K_STR, S(provider), 0, 0, NULL, "gemini", NULL },
	{ "providers", K_STR, S(providers), 0, 0, NULL, "", NULL },
	{ "rate_limit", K_INT, S(rate_limit), 1, 1000000, NULL, "60", NULL },
	{ "reap_interval", K_INT, S(reap_interval), 1, 86400, NULL, "60", NULL },
	{ "request_timeout", K_INT, S(request_timeout), 1, 3600, NULL, "60", NULL },
	{ "retry_attempts", K_INT, S(retry_attempts), 1, 20, NULL, "3", NULL },
	{ "retry_base", K_INT, S(retry_base), 0, 600000, NULL, "1000", NULL },
	{ "retry_cap", K_INT, S(retry_cap), 0, 3600000, NULL, "30000", NULL },
	{ "stale_after", K_INT, S(stale_after), 2, 86400, NULL, "30", NULL },
	{ "status_auth", K_ENUM, S(status_auth), 0, 0, status_auth_words, "public", NULL },
	{ "status_url", K_STR, S(status_url), 0, 0, NULL, "/api/case-images/", NULL },
	{ "stuck_after", K_INT, S(stuck_after), 1, 604800, NULL, "600", NULL },
	{ "threads", K_INT, S(threads), 1, 64, NULL, "4", NULL },
	{ "webhook_allow", K_STR, S(webhook_allow), 0, 0, NULL, "", NULL },
	{ "webhook_interval", K_INT, S(webhook_interval), 0, 60000, NULL, "500", NULL },
	{ "webhook_private", K_ENUM, S(webhook_private), 0, 0, yesno_words, "no", NULL },
	{ "webhook_retries", K_INT, S(webhook_retries), 0, 10, NULL, "3", NULL },
	{ "webhook_secret", K_SECRET, S(webhook_secret), 0, 0, NULL, "", NULL },
	{ "webhook_timeout", K_INT, S(webhook_timeout), 1, 300, NULL, "10", NULL },
	{ "webhook_verify", K_ENUM, S(webhook_verify), 0, 0, onoff_words, "on", NULL },
	{ "webhook_verify_secrets", K_SECRET, S(webhook_verify_secrets), 0, 0, NULL, "", NULL },
};
#undef S

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/*
 * Keys that configured what is gone. Each names why, and what to do; a
 * file that still sets one is refused with every such line listed.
 */
static const struct { const char *name, *why; } removed[] = {
	{ "callback_url", DISPATCH_GONE },
	{ "dispatch_max_jobs", DISPATCH_GONE },
	{ "dispatch_secret", DISPATCH_GONE },
	{ "dispatch_url", DISPATCH_GONE },
	{ "imagen_endpoint", IMAGEN_GONE },
	{ "imagen_model", IMAGEN_GONE },
	{ "imagen_url", IMAGEN_GONE },
	{ "worker_name", DISPATCH_GONE },
};

const char *
config_default_path(void)
{
	return SYSCONFDIR "/imagegen.conf";
}

/* A key and the struct its offset is into: the config, or a provider's settings. */
struct found {
	const struct config_key *k;
	void *base;
	int seen_index;		/* its place among every key, for "set twice" */
};

static int
find_key(struct config *cfg, const char *name, struct found *f)
{
	int index = 0;
	for (size_t i = 0; i < N_KEYS; i++, index++) {
		if (strcmp(keys[i].name, name) == 0) {
			*f = (struct found){ &keys[i], cfg, index };
			return 0;
		}
	}
	for (int p = 0; p < MAX_PROVIDERS; p++) {
		const struct provider *pv = provider_table(p);
		for (size_t i = 0; i < pv->n_keys; i++, index++) {
			if (strcmp(pv->keys[i].name, name) == 0) {
				*f = (struct found){ &pv->keys[i], cfg->settings[p], index };
				return 0;
			}
		}
	}
	return -1;
}

static int
count_keys(void)
{
	int n = (int)N_KEYS;
	for (int p = 0; p < MAX_PROVIDERS; p++)
		n += (int)provider_table(p)->n_keys;
	return n;
}

static int
set_int(const struct config_key *k, void *field, const char *v, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0) {
		snprintf(err, errlen, "%s: not a number: \"%s\"", k->name, v);
		return -1;
	}
	if (n < k->min || n > k->max) {
		snprintf(err, errlen, "%s: %ld is outside %ld..%ld", k->name, n, k->min, k->max);
		return -1;
	}
	*(long *)field = n;
	return 0;
}

static int
set_enum(const struct config_key *k, void *field, const char *v, char *err, size_t errlen)
{
	for (long i = 0; k->words[i] != NULL; i++) {
		if (strcmp(k->words[i], v) == 0) {
			*(long *)field = i;
			return 0;
		}
	}
	snprintf(err, errlen, "%s: unknown value \"%s\"", k->name, v);
	return -1;
}

static void
free_names(struct config_names *m)
{
	free(m->text);
	for (int i = 0; i < m->n; i++)
		free(m->name[i]);
	memset(m, 0, sizeof(*m));
}

/* A name goes into a URL's path as it is: letters, digits, '.', '_' and '-' only. */
static int
name_valid(const char *s, size_t n)
{
	return n > 0 && n < 128 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") >= n;
}

static int
set_names(const struct config_key *k, struct config_names *m, const char *v, char *err,
    size_t errlen)
{
	struct config_names new = { .text = strdup(v) };
	const char *p = v + strspn(v, " \t");
	while (new.text != NULL && *p != '\0') {
		size_t n = strcspn(p, " \t");
		if (!name_valid(p, n) || new.n == MAX_MODELS) {
			snprintf(err, errlen, "%s: %s", k->name, new.n == MAX_MODELS ?
			    "more than 8 names" : "a name has a character other than letters, "
			    "digits, '.', '_' and '-'");
			free_names(&new);
			return -1;
		}
		for (int i = 0; i < new.n; i++)
			if (strlen(new.name[i]) == n && strncmp(new.name[i], p, n) == 0) {
				snprintf(err, errlen, "%s: \"%s\" is named twice", k->name,
				    new.name[i]);
				free_names(&new);
				return -1;
			}
		if ((new.name[new.n] = strndup(p, n)) == NULL)
			break;
		new.n++;
		p += n;
		p += strspn(p, " \t");
	}
	if (new.text == NULL || *p != '\0' || new.n == 0) {
		snprintf(err, errlen, "%s: %s", k->name, new.text == NULL || *p != '\0' ?
		    "out of memory" : "name one at least");
		free_names(&new);
		return -1;
	}
	free_names(m);
	*m = new;
	return 0;
}

/*
 * A password in the URI would sit in the config in clear, and reach every
 * process that prints it: libpq takes it from ~/.pgpass, passfile= or
 * PGPASSWORD instead.
 */
static int
uri_has_password(const char *uri)
{
	const char *auth = strstr(uri, "://") + 3;
	size_t end = strcspn(auth, "/?");
	const char *at = memchr(auth, '@', end);
	if (at != NULL && memchr(auth, ':', (size_t)(at - auth)) != NULL)
		return 1;
	const char *q = strchr(auth, '?');
	for (; q != NULL; q = strchr(q + 1, '&'))
		if (strncmp(q + 1, "password=", 9) == 0)
			return 1;
	return 0;
}

static int
check_database(const struct config_key *k, const char *v, char *err, size_t errlen)
{
	if (store_is_uri(v) && uri_has_password(v)) {
		snprintf(err, errlen, "%s: the URI holds a password: take it out, and give it in "
		    "~/.pgpass, the file passfile= or PGPASSFILE names, or PGPASSWORD "
		    "(imagegen(8), POSTGRESQL)", k->name);
		return -1;
	}
	if (!store_is_uri(v) && v[0] != '/') {
		snprintf(err, errlen, "%s: neither an absolute path nor a postgresql:// URI: \"%s\"",
		    k->name, v);
		return -1;
	}
	return 0;
}

static int
set_str(const struct config_key *k, void *field, const char *v, char *err, size_t errlen)
{
	char why[160];
	if (k->kind == K_DATABASE && check_database(k, v, err, errlen) != 0)
		return -1;
	if ((k->kind == K_URL || (k->kind == K_OPTURL && *v != '\0')) &&
	    urlmatch_plain(v, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", k->name, why);
		return -1;
	}
	if ((k->kind == K_PATH || (k->kind == K_OPTPATH && *v != '\0')) && v[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path: \"%s\"", k->name, v);
		return -1;
	}
	/* An enum whose empty value means "not sent": the words, or nothing. */
	if (k->kind == K_STR && k->words != NULL && *v != '\0') {
		long ignored;
		if (set_enum(k, &ignored, v, err, errlen) != 0)
			return -1;
	}
	char *copy = strdup(v);
	if (copy == NULL) {
		snprintf(err, errlen, "%s: out of memory", k->name);
		return -1;
	}
	char **slot = field;
	free(*slot);
	*slot = copy;
	return 0;
}

/* Sets one key of base (the config, or a provider's settings) from its text. */
int
config_set(const struct config_key *k, void *base, const char *text, char *err,
    size_t errlen)
{
	void *field = (char *)base + k->off;
	switch (k->kind) {
	case K_INT:
		return set_int(k, field, text, err, errlen);
	case K_ENUM:
		return set_enum(k, field, text, err, errlen);
	case K_NAMES:
		return set_names(k, field, text, err, errlen);
	default:
		return set_str(k, field, text, err, errlen);
	}
}

/* Sets one key from its text; the error names the key, never the value of a secret. */
int
config_parse(struct config *cfg, const char *name, const char *text, char *err, size_t errlen)
{
	struct found f;
	if (find_key(cfg, name, &f) != 0) {
		snprintf(err, errlen, "unknown key \"%s\"", name);
		return -1;
	}
	return config_set(f.k, f.base, text, err, errlen);
}

static void
defaults_of(const struct config_key *k, size_t n, void *base)
{
	char err[256];
	for (size_t i = 0; i < n; i++)
		if (config_set(&k[i], base, k[i].def, err, sizeof(err)) != 0)
			abort();	/* a bad compiled-in default is a programming error */
}

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	defaults_of(keys, N_KEYS, cfg);
	for (int p = 0; p < MAX_PROVIDERS; p++) {
		const struct provider *pv = provider_table(p);
		if (pv->settings_size == 0)
			continue;
		if ((cfg->settings[p] = calloc(1, pv->settings_size)) == NULL)
			abort();	/* a few hundred bytes at start-up */
		defaults_of(pv->keys, pv->n_keys, cfg->settings[p]);
	}
	cfg->chain[0] = 0;
	cfg->n_chain = 1;
}

static char *
trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* The lines that name what is gone, for one message at the end of the file. */
struct gone {
	char lines[160];
	const char *why;
};

static const char *
removed_why(const char *name, const char *value)
{
	for (size_t i = 0; i < sizeof(removed) / sizeof(removed[0]); i++)
		if (strcmp(removed[i].name, name) == 0)
			return removed[i].why;
	if ((strcmp(name, "provider") == 0 || strcmp(name, "providers") == 0) &&
	    strstr(value, "imagen") != NULL)
		return IMAGEN_GONE;
	return NULL;
}

static void
note_gone(struct gone *g, const char *why, const char *name, int lineno)
{
	size_t n = strlen(g->lines);
	if (n + 40 < sizeof(g->lines))
		snprintf(g->lines + n, sizeof(g->lines) - n, "%s%d (%s)", n ? ", " : "", lineno,
		    name);
	g->why = why;
}

/* seen[i] is the line that set key i: a key set twice is a mistake, not an override. */
static int
parse_line(struct config *cfg, char *line, int lineno, int *seen, struct gone *g, char *err,
    size_t errlen)
{
	char *s = trim(line);
	if (*s == '\0' || *s == '#')
		return 0;
	char *eq = strchr(s, '=');
	if (eq == NULL) {
		snprintf(err, errlen, "expected \"name = value\"");
		return -1;
	}
	*eq = '\0';
	const char *name = trim(s), *value = trim(eq + 1), *why = removed_why(name, value);
	struct found f;
	if (why != NULL) {
		note_gone(g, why, name, lineno);
		return 0;
	}
	if (find_key(cfg, name, &f) != 0) {
		snprintf(err, errlen, "unknown key \"%s\"", name);
		return -1;
	}
	if (seen[f.seen_index] != 0) {
		snprintf(err, errlen, "%s: set twice, on lines %d and %d: keep one", name,
		    seen[f.seen_index], lineno);
		return -1;
	}
	seen[f.seen_index] = lineno;
	return config_set(f.k, f.base, value, err, errlen);
}

static int
read_lines(struct config *cfg, FILE *f, const char *path, char *err, size_t errlen)
{
	char line[8192], why[512];
	int lineno = 0, rc = 0, *seen = calloc((size_t)count_keys(), sizeof(int));
	struct gone g = { "", NULL };
	if (seen == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
		} else if (parse_line(cfg, line, lineno, seen, &g, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			rc = -1;
		}
	}
	free(seen);
	if (rc == 0 && g.why != NULL) {
		snprintf(err, errlen, "%s: %s: delete line%s %s", path, g.why,
		    strchr(g.lines, ',') ? "s" : "", g.lines);
		rc = -1;
	}
	return rc;
}

/* A missing file at the default path is fine: the defaults stand. */
static int
read_file(struct config *cfg, const char *path, int must_exist, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = read_lines(cfg, f, path, err, errlen);
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	fclose(f);
	return rc;
}

static int
check_verify_secrets(const char *list)
{
	char one[512];
	unsigned char raw[SIGN_KEY_MAX];
	size_t rawlen;
	for (const char *p = list + strspn(list, " "); *p != '\0'; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");
		if (n >= sizeof(one))
			return -1;
		memcpy(one, p, n);
		one[n] = '\0';
		if (sign_secret(one, raw, &rawlen) != 0)
			return -1;
		p += n;
	}
	return 0;
}

/*
 * The failover chain: `providers`, an ordered list, or `provider` alone.
 * Each name once: a provider that failed an image is not asked again.
 */
static int
set_chain(struct config *cfg, char *err, size_t errlen)
{
	const char *p = *cfg->providers != '\0' ? cfg->providers : cfg->provider;
	cfg->n_chain = 0;
	for (p += strspn(p, " \t"); *p != '\0'; p += strspn(p, " \t")) {
		size_t n = strcspn(p, " \t");
		const struct provider *pv = provider_named(p, n);
		int which = pv != NULL ? provider_index(pv) : -1;
		for (int i = 0; which >= 0 && i < cfg->n_chain; i++)
			if (cfg->chain[i] == which)
				which = -2;
		if (which < 0 || cfg->n_chain == MAX_PROVIDERS) {
			snprintf(err, errlen, "%s: %s \"%.*s\": use gemini, openai or local, each "
			    "once", *cfg->providers ? "providers" : "provider", which == -2 ?
			    "repeated" : "unknown", (int)n, p);
			return -1;
		}
		cfg->chain[cfg->n_chain++] = which;
		p += n;
	}
	if (cfg->n_chain == 0) {
		snprintf(err, errlen, "provider: name one: gemini, openai or local");
		return -1;
	}
	return 0;
}

/*
 * One price from a list of "NAME:USD" words, or of a bare "USD" for every
 * provider: -1 when the list names none for this provider, -2 when a word
 * is not a price (config_load refuses such a list).
 */
double
config_price(const char *list, const char *provider)
{
	double found = -1;
	for (const char *p = list + strspn(list, " \t"); *p != '\0'; p += strspn(p, " \t")) {
		size_t n = strcspn(p, " \t");
		const char *colon = memchr(p, ':', n), *num = colon ? colon + 1 : p;
		char *end;
		double v = strtod(num, &end);
		if (end != p + n || end == num || !(v >= 0 && v < 1e6))
			return -2;
		if (colon == NULL || ((size_t)(colon - p) == strlen(provider) &&
		    strncmp(p, provider, (size_t)(colon - p)) == 0))
			found = v;
		p += n;
	}
	return found;
}

/* Every key: the global table's, then each provider's, in its base. */
static void
each_key(struct config *cfg, void (*fn)(const struct config_key *k, void *base, void *arg),
    void *arg)
{
	for (size_t i = 0; i < N_KEYS; i++)
		fn(&keys[i], cfg, arg);
	for (int p = 0; p < MAX_PROVIDERS; p++) {
		const struct provider *pv = provider_table(p);
		for (size_t i = 0; cfg->settings[p] != NULL && i < pv->n_keys; i++)
			fn(&pv->keys[i], cfg->settings[p], arg);
	}
}

static void
any_secret(const struct config_key *k, void *base, void *arg)
{
	if (k->kind == K_SECRET && **(char **)((char *)base + k->off) != '\0')
		*(int *)arg = 1;
}

/*
 * Secrets in a file that others can read are secrets no more. Its group
 * may read it when that is the service's: the Debian package's config is
 * 0640 root:imagegen.
 */
static int
group_is_service(gid_t gid)
{
	struct group *g = getgrgid(gid);
	return gid == getegid() || (g != NULL && strcmp(g->gr_name, "imagegen") == 0);
}

static void
warn_if_readable(struct config *cfg, const char *path)
{
	struct stat st;
	int secrets = 0;
	each_key(cfg, any_secret, &secrets);
	if (secrets && stat(path, &st) == 0 && ((st.st_mode & 007) != 0 ||
	    ((st.st_mode & 070) != 0 && ((st.st_mode & 020) != 0 ||
	    !group_is_service(st.st_gid)))))
		log_warn("config: %s holds secrets but its mode is %03o: chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
}

struct env_result {
	char *err;
	size_t errlen;
	int rc;
};

/* GEMINI_API_KEY and its kind: the environment wins over the file. */
static void
from_env(const struct config_key *k, void *base, void *arg)
{
	struct env_result *r = arg;
	const char *v = k->env != NULL ? getenv(k->env) : NULL;
	if (r->rc == 0 && v != NULL && *v != '\0' &&
	    config_set(k, base, v, r->err, r->errlen) != 0)
		r->rc = -1;
}

/* What the keys cannot say one by one. */
/*
 * The host's name, unless host_id names it: what a claim records, and
 * whose worker pids this host may judge.
 */
static int
resolve_host(struct config *cfg, const char *path, char *err, size_t errlen)
{
	char name[256];
	snprintf(name, sizeof(name), "%s", cfg->host_id);
	if (*name == '\0' && (gethostname(name, sizeof(name)) != 0 || *name == '\0'))
		snprintf(name, sizeof(name), "localhost");
	name[sizeof(name) - 1] = '\0';
	if (*cfg->host_id == '\0')
		name[strcspn(name, ".")] = '\0';
	size_t n = strlen(name);
	if (n == 0 || n > 64 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") != n) {
		snprintf(err, errlen, "%s: host_id: 1 to 64 of A-Z a-z 0-9 . _ -", path);
		return -1;
	}
	memcpy(cfg->host, name, n + 1);
	return 0;
}

/*
 * webhook_allow and image_url_allow: origins or path prefixes, each an
 * http(s) URL as libcurl reads it (urlmatch.c).
 */
static int
allowlists_valid(const struct config *cfg, const char *path, char *err, size_t errlen)
{
	static const char *const names[2] = { "webhook_allow", "image_url_allow" };
	const char *lists[2] = { cfg->webhook_allow, cfg->image_url_allow };
	char why[400];
	for (int i = 0; i < 2; i++)
		if (urlmatch_list_valid(lists[i], why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s: %s: %s; each entry is an origin, such as "
			    "https://game.example, or one with a path prefix ending in /, such as "
			    "https://game.example/hooks/", path, names[i], why);
			return -1;
		}
	return 0;
}

/* What the keys cannot say one by one. */
static int
check_loaded(struct config *cfg, const char *path, char *err, size_t errlen)
{
	char why[256];
	if (resolve_host(cfg, path, err, errlen) != 0)
		return -1;
	/* auto: the pictures go where every host sees them, the database, when it is shared. */
	cfg->media_in_db = cfg->media_store == MEDIA_DATABASE ||
	    (cfg->media_store == MEDIA_AUTO && store_is_uri(cfg->database));
	if (config_price(cfg->price_per_image, "") == -2 ||
	    config_price(cfg->price_per_mtok, "") == -2) {
		snprintf(err, errlen, "%s: %s: not prices in USD, as \"0.039\" or "
		    "\"gemini:0.039 openai:0.042\"", path, config_price(cfg->price_per_image, "")
		    == -2 ? "price_per_image" : "price_per_mtok");
		return -1;
	}
	if (set_chain(cfg, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	unsigned char raw[SIGN_KEY_MAX];
	size_t rawlen;
	if (*cfg->webhook_secret != '\0' && sign_secret(cfg->webhook_secret, raw, &rawlen) != 0) {
		snprintf(err, errlen, "%s: webhook_secret: not a whsec_ secret of 16 to 64 bytes",
		    path);
		return -1;
	}
	if (check_verify_secrets(cfg->webhook_verify_secrets) != 0) {
		snprintf(err, errlen, "%s: webhook_verify_secrets: not whsec_ secrets of 16 to 64 "
		    "bytes, separated by spaces", path);
		return -1;
	}
	if (allowlists_valid(cfg, path, err, errlen) != 0)
		return -1;
	size_t n = strlen(cfg->media_url);
	if (n == 0 || cfg->media_url[n - 1] != '/') {
		snprintf(err, errlen, "%s: media_url: must end in /", path);
		return -1;
	}
	return 0;
}

/* path NULL means IMAGEGEN_CONFIG, else the compiled-in default. */
int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	int must_exist = 1;
	config_defaults(cfg);
	if (path == NULL || *path == '\0')
		path = getenv("IMAGEGEN_CONFIG");
	if (path == NULL || *path == '\0') {
		path = config_default_path();
		must_exist = 0;
	}
	cfg->path = strdup(path);
	if (cfg->path == NULL || read_file(cfg, path, must_exist, err, errlen) != 0)
		return -1;
	warn_if_readable(cfg, path);
	char why[256];
	struct env_result env = { why, sizeof(why), 0 };
	each_key(cfg, from_env, &env);
	if (env.rc != 0) {
		snprintf(err, errlen, "%s: from the environment: %s", path, why);
		return -1;
	}
	return check_loaded(cfg, path, err, errlen);
}

struct print_key {
	const struct config_key *k;
	const void *base;
};

static void
collect(const struct config_key *k, void *base, void *arg)
{
	struct print_key **p = arg;
	(*p)->k = k;
	(*(p))->base = base;
	(*p)++;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct print_key *)a)->k->name,
	    ((const struct print_key *)b)->k->name);
}

static void
print_one(FILE *out, const struct config_key *k, const void *base)
{
	const void *field = (const char *)base + k->off;
	const char *str = *(char *const *)field;
	if (k->kind == K_INT)
		fprintf(out, "%s = %ld\n", k->name, *(const long *)field);
	else if (k->kind == K_ENUM)
		fprintf(out, "%s = %s\n", k->name, k->words[*(const long *)field]);
	else if (k->kind == K_NAMES)
		fprintf(out, "%s = %s\n", k->name, ((const struct config_names *)field)->text);
	else if (k->kind == K_SECRET)
		fprintf(out, "%s = %s\n", k->name, *str ? "(set)" : "");
	else
		fprintf(out, "%s = %s\n", k->name, str);
}

/* What `imagegen config` prints: every key's effective value, by name, secrets masked. */
void
config_print(const struct config *cfg, FILE *out)
{
	struct print_key all[N_KEYS + MAX_PROVIDERS * 16], *p = all;
	if (count_keys() > (int)(sizeof(all) / sizeof(all[0])))
		abort();	/* a provider with more keys than room: a programming error */
	each_key((struct config *)cfg, collect, &p);
	qsort(all, (size_t)(p - all), sizeof(all[0]), by_name);
	for (struct print_key *k = all; k < p; k++)
		print_one(out, k->k, k->base);
}

static void
free_key(const struct config_key *k, void *base, void *arg)
{
	(void)arg;
	void *field = (char *)base + k->off;
	if (k->kind == K_NAMES)
		free_names(field);
	else if (k->kind != K_INT && k->kind != K_ENUM)
		free(*(char **)field);
}

void
config_free(struct config *cfg)
{
	each_key(cfg, free_key, NULL);
	for (int p = 0; p < MAX_PROVIDERS; p++)
		free(cfg->settings[p]);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

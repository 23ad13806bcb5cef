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
#include "imageurl.h"
#include "log.h"
#include "sign.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/usr/local/etc"
#endif

enum kind { K_INT, K_STR, K_ENUM, K_URL, K_OPTURL, K_PATH, K_OPTPATH, K_SECRET };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	long min, max;		/* K_INT range */
	const char *const *words; /* K_ENUM values, index is the value */
	const char *def;
};

static const char *const provider_words[] = { "gemini", "imagen", "openai", "local", NULL };
static const char *const urls_words[] = { "path", "data", NULL };
static const char *const status_auth_words[] = { "public", "token", NULL };
static const char *const yesno_words[] = { "no", "yes", NULL };
static const char *const level_words[] = { "debug", "info", "warn", "error", NULL };
static const char *const onoff_words[] = { "off", "on", NULL };

#define S(f) offsetof(struct config, f)
/* Alphabetical, as imagegen.conf(5) lists them. */
static const struct key keys[] = {
	{ "api_key", K_SECRET, S(api_key), 0, 0, NULL, "" },
	{ "api_tokens", K_SECRET, S(api_tokens), 0, 0, NULL, "" },
	{ "api_tokens_file", K_OPTPATH, S(api_tokens_file), 0, 0, NULL, "" },
	{ "concurrency", K_INT, S(concurrency), 1, 64, NULL, "5" },
	{ "callback_url", K_OPTURL, S(callback_url), 0, 0, NULL, "" },
	{ "connect_timeout", K_INT, S(connect_timeout), 1, 300, NULL, "10" },
	{ "database", K_PATH, S(database), 0, 0, NULL, "/var/lib/imagegen/imagegen.db" },
	{ "dispatch_max_jobs", K_INT, S(dispatch_max_jobs), 1, 100000, NULL, "64" },
	{ "dispatch_secret", K_SECRET, S(dispatch_secret), 0, 0, NULL, "" },
	{ "dispatch_url", K_OPTURL, S(dispatch_url), 0, 0, NULL, "" },
	{ "evidence_prompt", K_STR, S(evidence_prompt), 0, 0, NULL,
	  "Evidence photography: {name}. {description}. Clear detail, "
	  "forensic quality, neutral background." },
	{ "failover_on_refusal", K_ENUM, S(failover_on_refusal), 0, 0, yesno_words, "no" },
	{ "gemini_image_size", K_STR, S(gemini_image_size), 0, 0, NULL, "1K" },
	{ "gemini_model", K_STR, S(gemini_model), 0, 0, NULL, "gemini-2.5-flash-image" },
	{ "gemini_url", K_URL, S(gemini_url), 0, 0, NULL,
	  "https://generativelanguage.googleapis.com" },
	{ "heartbeat_interval", K_INT, S(heartbeat_interval), 1, 3600, NULL, "5" },
	{ "image_quality", K_INT, S(image_quality), 1, 100, NULL, "80" },
	{ "image_size", K_INT, S(image_size), 16, 4096, NULL, "512" },
	{ "image_url_allow", K_STR, S(image_url_allow), 0, 0, NULL, "" },
	{ "image_urls", K_ENUM, S(image_urls), 0, 0, urls_words, "path" },
	{ "imagen_endpoint", K_OPTURL, S(imagen_endpoint), 0, 0, NULL, "" },
	{ "imagen_model", K_STR, S(imagen_model), 0, 0, NULL, "imagen-3.0-generate-002" },
	{ "imagen_url", K_URL, S(imagen_url), 0, 0, NULL,
	  "https://generativelanguage.googleapis.com" },
	{ "job_deadline", K_INT, S(job_deadline), 1, 86400, NULL, "300" },
	{ "local_delay", K_INT, S(local_delay), 0, 600000, NULL, "0" },
	{ "location_prompt", K_STR, S(location_prompt), 0, 0, NULL,
	  "Atmospheric environmental photography: {name}. {description}. "
	  "Film noir aesthetic, dramatic lighting, moody atmosphere, empty location." },
	{ "log", K_STR, S(log), 0, 0, NULL, "stderr" },
	{ "log_level", K_ENUM, S(log_level), 0, 0, level_words, "info" },
	{ "max_answer", K_INT, S(max_answer), 65536, 1073741824, NULL, "67108864" },
	{ "max_body", K_INT, S(max_body), 1024, 16777216, NULL, "262144" },
	{ "max_depth", K_INT, S(max_depth), 2, 64, NULL, "8" },
	{ "max_description", K_INT, S(max_description), 1, 65536, NULL, "2000" },
	{ "max_inflight", K_INT, S(max_inflight), 1, 1024, NULL, "8" },
	{ "max_items", K_INT, S(max_items), 1, 1000, NULL, "32" },
	{ "max_name", K_INT, S(max_name), 1, 4096, NULL, "200" },
	{ "max_webhook_body", K_INT, S(max_webhook_body), 1024, 67108864, NULL, "8388608" },
	{ "media_dir", K_PATH, S(media_dir), 0, 0, NULL, "/var/lib/imagegen/media" },
	{ "media_url", K_STR, S(media_url), 0, 0, NULL, "/media/" },
	{ "openai_api_key", K_SECRET, S(openai_api_key), 0, 0, NULL, "" },
	{ "openai_model", K_STR, S(openai_model), 0, 0, NULL, "gpt-image-1" },
	{ "openai_output_format", K_STR, S(openai_output_format), 0, 0, NULL, "jpeg" },
	{ "openai_quality", K_STR, S(openai_quality), 0, 0, NULL, "medium" },
	{ "openai_size", K_STR, S(openai_size), 0, 0, NULL, "1024x1024" },
	{ "openai_url", K_URL, S(openai_url), 0, 0, NULL, "https://api.openai.com" },
	{ "price_per_image", K_STR, S(price_per_image), 0, 0, NULL,
	  "gemini:0.039 imagen:0.04 openai:0.042 local:0" },
	{ "price_per_mtok", K_STR, S(price_per_mtok), 0, 0, NULL, "" },
	{ "provider", K_ENUM, S(provider), 0, 0, provider_words, "gemini" },
	{ "providers", K_STR, S(providers), 0, 0, NULL, "" },
	{ "rate_limit", K_INT, S(rate_limit), 1, 1000000, NULL, "60" },
	{ "reap_interval", K_INT, S(reap_interval), 1, 86400, NULL, "60" },
	{ "request_timeout", K_INT, S(request_timeout), 1, 3600, NULL, "60" },
	{ "retry_attempts", K_INT, S(retry_attempts), 1, 20, NULL, "3" },
	{ "retry_base", K_INT, S(retry_base), 0, 600000, NULL, "1000" },
	{ "retry_cap", K_INT, S(retry_cap), 0, 3600000, NULL, "30000" },
	{ "stale_after", K_INT, S(stale_after), 2, 86400, NULL, "30" },
	{ "status_auth", K_ENUM, S(status_auth), 0, 0, status_auth_words, "public" },
	{ "status_url", K_STR, S(status_url), 0, 0, NULL, "/api/case-images/" },
	{ "stuck_after", K_INT, S(stuck_after), 1, 604800, NULL, "600" },
	{ "threads", K_INT, S(threads), 1, 64, NULL, "4" },
	{ "webhook_allow", K_STR, S(webhook_allow), 0, 0, NULL, "" },
	{ "webhook_interval", K_INT, S(webhook_interval), 0, 60000, NULL, "500" },
	{ "webhook_private", K_ENUM, S(webhook_private), 0, 0, yesno_words, "no" },
	{ "webhook_retries", K_INT, S(webhook_retries), 0, 10, NULL, "3" },
	{ "webhook_secret", K_SECRET, S(webhook_secret), 0, 0, NULL, "" },
	{ "webhook_timeout", K_INT, S(webhook_timeout), 1, 300, NULL, "10" },
	{ "webhook_verify", K_ENUM, S(webhook_verify), 0, 0, onoff_words, "on" },
	{ "webhook_verify_secrets", K_SECRET, S(webhook_verify_secrets), 0, 0, NULL, "" },
	{ "worker_name", K_STR, S(worker_name), 0, 0, NULL, "" },
};
#undef S

const char *
config_default_path(void)
{
	return SYSCONFDIR "/imagegen.conf";
}

static const struct key *
find_key(const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int
set_int(const struct key *k, void *field, const char *v, char *err, size_t errlen)
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
set_enum(const struct key *k, void *field, const char *v, char *err, size_t errlen)
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

static int
set_str(const struct key *k, void *field, const char *v, char *err, size_t errlen)
{
	if ((k->kind == K_URL || (k->kind == K_OPTURL && *v != '\0')) &&
	    strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
		snprintf(err, errlen, "%s: not an http or https URL", k->name);
		return -1;
	}
	if ((k->kind == K_PATH || (k->kind == K_OPTPATH && *v != '\0')) && v[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path: \"%s\"", k->name, v);
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

/* Sets one key from its text; the error names the key, never the value of a secret. */
int
config_parse(struct config *cfg, const char *name, const char *text, char *err, size_t errlen)
{
	const struct key *k = find_key(name);
	if (k == NULL) {
		snprintf(err, errlen, "unknown key \"%s\"", name);
		return -1;
	}
	void *field = (char *)cfg + k->off;
	switch (k->kind) {
	case K_INT:
		return set_int(k, field, text, err, errlen);
	case K_ENUM:
		return set_enum(k, field, text, err, errlen);
	default:
		return set_str(k, field, text, err, errlen);
	}
}

void
config_defaults(struct config *cfg)
{
	char err[256];
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (config_parse(cfg, keys[i].name, keys[i].def, err, sizeof(err)) != 0)
			abort();	/* a bad compiled-in default is a programming error */
	cfg->chain[0] = cfg->provider;
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

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* seen[i] is the line that set keys[i]: a key set twice is a mistake, not an override. */
static int
parse_line(struct config *cfg, char *line, int lineno, int *seen, char *err, size_t errlen)
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
	const char *name = trim(s);
	const struct key *k = find_key(name);
	if (k != NULL && seen[k - keys] != 0) {
		snprintf(err, errlen, "%s: set twice, on lines %d and %d: keep one", name,
		    seen[k - keys], lineno);
		return -1;
	}
	if (k != NULL)
		seen[k - keys] = lineno;
	return config_parse(cfg, name, trim(eq + 1), err, errlen);
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
	char line[8192], why[512];
	int lineno = 0, rc = 0, seen[N_KEYS] = { 0 };
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
		} else if (parse_line(cfg, line, lineno, seen, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			rc = -1;
		}
	}
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
	const char *p = cfg->providers;
	cfg->n_chain = 0;
	for (p += strspn(p, " \t"); *p != '\0'; p += strspn(p, " \t")) {
		size_t n = strcspn(p, " \t");
		long which = -1;
		for (long i = 0; provider_words[i] != NULL; i++)
			if (strlen(provider_words[i]) == n && strncmp(p, provider_words[i], n) == 0)
				which = i;
		for (int i = 0; which >= 0 && i < cfg->n_chain; i++)
			if (cfg->chain[i] == which)
				which = -2;
		if (which < 0 || cfg->n_chain == MAX_PROVIDERS) {
			snprintf(err, errlen, "providers: %s \"%.*s\": use gemini, imagen, openai "
			    "or local, each once", which == -2 ? "repeated" : "unknown", (int)n, p);
			return -1;
		}
		cfg->chain[cfg->n_chain++] = which;
		p += n;
	}
	if (cfg->n_chain == 0)
		cfg->chain[cfg->n_chain++] = cfg->provider;
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
warn_if_readable(const struct config *cfg, const char *path)
{
	struct stat st;
	if ((*cfg->api_key != '\0' || *cfg->webhook_secret != '\0' ||
	    *cfg->openai_api_key != '\0' ||
	    *cfg->api_tokens != '\0' || *cfg->webhook_verify_secrets != '\0' ||
	    *cfg->dispatch_secret != '\0') &&
	    stat(path, &st) == 0 && ((st.st_mode & 007) != 0 || ((st.st_mode & 070) != 0 &&
	    ((st.st_mode & 020) != 0 || !group_is_service(st.st_gid)))))
		log_warn("config: %s holds secrets but its mode is %03o: chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
}

/*
 * Scale-out (imagegen(8), SCALING OUT): a state host dispatches signed, to
 * a callback its worker hosts can reach; a half-set pair is a mistake.
 */
static int
dispatch_config_check(const struct config *cfg, const char *path, char *err, size_t errlen)
{
	unsigned char raw[SIGN_KEY_MAX];
	size_t rawlen;
	if (*cfg->dispatch_secret != '\0' &&
	    sign_secret(cfg->dispatch_secret, raw, &rawlen) != 0) {
		snprintf(err, errlen, "%s: dispatch_secret: not a whsec_ secret of 16 to 64 bytes",
		    path);
		return -1;
	}
	if (*cfg->dispatch_url != '\0' && *cfg->dispatch_secret == '\0') {
		snprintf(err, errlen, "%s: dispatch_url is set but dispatch_secret is not: "
		    "dispatches must be signed with the secret the worker hosts share", path);
		return -1;
	}
	if (*cfg->dispatch_url != '\0' && *cfg->callback_url == '\0') {
		snprintf(err, errlen, "%s: dispatch_url is set but callback_url is not: set it "
		    "to this host's /api/webhook/image-progress as the worker hosts reach it", path);
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
	const char *key = getenv("GEMINI_API_KEY");
	if (key != NULL && *key != '\0' && set_str(find_key("api_key"),
	    &cfg->api_key, key, err, errlen) != 0)
		return -1;
	key = getenv("OPENAI_API_KEY");
	if (key != NULL && *key != '\0' && set_str(find_key("openai_api_key"),
	    &cfg->openai_api_key, key, err, errlen) != 0)
		return -1;
	if (config_price(cfg->price_per_image, "") == -2 ||
	    config_price(cfg->price_per_mtok, "") == -2) {
		snprintf(err, errlen, "%s: %s: not prices in USD, as \"0.039\" or "
		    "\"gemini:0.039 openai:0.042\"", path, config_price(cfg->price_per_image, "")
		    == -2 ? "price_per_image" : "price_per_mtok");
		return -1;
	}
	char why[256];
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
	if (dispatch_config_check(cfg, path, err, errlen) != 0)
		return -1;
	if (check_verify_secrets(cfg->webhook_verify_secrets) != 0) {
		snprintf(err, errlen, "%s: webhook_verify_secrets: not whsec_ secrets of 16 to 64 "
		    "bytes, separated by spaces", path);
		return -1;
	}
	if (!imageurl_allow_valid(cfg->image_url_allow)) {
		snprintf(err, errlen, "%s: image_url_allow: each prefix must be an http or https "
		    "URL with a path that ends in /, such as https://cdn.example/images/", path);
		return -1;
	}
	size_t n = strlen(cfg->media_url);
	if (n == 0 || cfg->media_url[n - 1] != '/') {
		snprintf(err, errlen, "%s: media_url: must end in /", path);
		return -1;
	}
	return 0;
}

/* What `imagegen config` prints: every key's effective value, secrets masked. */
void
config_print(const struct config *cfg, FILE *out)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *k = &keys[i];
		const void *field = (const char *)cfg + k->off;
		long n = *(const long *)field;
		const char *str = *(char *const *)field;
		if (k->kind == K_INT)
			fprintf(out, "%s = %ld\n", k->name, n);
		else if (k->kind == K_ENUM)
			fprintf(out, "%s = %s\n", k->name, k->words[n]);
		else if (k->kind == K_SECRET)
			fprintf(out, "%s = %s\n", k->name, *str ? "(set)" : "");
		else
			fprintf(out, "%s = %s\n", k->name, str);
	}
}

void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].kind != K_INT && keys[i].kind != K_ENUM)
			free(*(char **)((char *)cfg + keys[i].off));
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

/*
 * provider.c: the provider table, and what every provider's HTTP exchange
 * shares: the answer collected under max_answer, Retry-After, the transport
 * errors worth another attempt, the key header wiped from the stack, and
 * error text made safe for the status JSON.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "config.h"
#include "provider.h"

/* The providers `provider` and `providers` may name; config.c reads their keys. */
static const struct provider *const table[MAX_PROVIDERS] = {
	&provider_gemini,
	&provider_openai,
	&provider_local,
};

const struct provider *
provider_table(int i)
{
	return i >= 0 && i < MAX_PROVIDERS ? table[i] : NULL;
}

const struct provider *
provider_named(const char *name, size_t len)
{
	for (int i = 0; i < MAX_PROVIDERS; i++)
		if (strlen(table[i]->name) == len && strncmp(table[i]->name, name, len) == 0)
			return table[i];
	return NULL;
}

int
provider_index(const struct provider *p)
{
	for (int i = 0; i < MAX_PROVIDERS; i++)
		if (table[i] == p)
			return i;
	return -1;
}

int
provider_count(const struct config *cfg)
{
	return cfg->n_chain;
}

/* The i-th provider of the failover chain, `providers` (or `provider`). */
const struct provider *
provider_at(const struct config *cfg, int i)
{
	return i >= 0 && i < cfg->n_chain ? table[cfg->chain[i]] : NULL;
}

const void *
provider_settings(const struct provider *p, const struct config *cfg)
{
	int i = provider_index(p);
	return i < 0 ? NULL : cfg->settings[i];
}

/* Its model list, in order of preference; NULL for a provider with a fixed model. */
const struct config_names *
provider_models(const struct provider *p, const struct config *cfg)
{
	const char *s = provider_settings(p, cfg);
	return s == NULL || *p->model_setting == '\0' ? NULL :
	    (const struct config_names *)(s + p->models_off);
}

/* Its first choice. */
const char *
provider_model(const struct provider *p, const struct config *cfg)
{
	const struct config_names *m = provider_models(p, cfg);
	return m != NULL && m->n > 0 ? m->name[0] : p->fixed_model;
}

/* NULL when the provider needs no key. */
const char *
provider_key(const struct provider *p, const struct config *cfg)
{
	const char *s = provider_settings(p, cfg);
	return s == NULL || *p->key_setting == '\0' ? NULL :
	    *(char *const *)(s + p->key_off);
}

/*
 * The failover order, flattened: each provider of the chain with each of
 * its models in turn. A retired model gives way to the provider's next
 * one; only when its list is used up does the next provider come.
 */
int
provider_stages(const struct config *cfg, struct provider_stage *out)
{
	int n = 0;
	for (int i = 0; i < provider_count(cfg); i++) {
		const struct provider *p = provider_at(cfg, i);
		const struct config_names *m = provider_models(p, cfg);
		int k = m != NULL ? m->n : 1;
		for (int j = 0; j < k && n < MAX_STAGES; j++) {
			out[n].p = p;
			out[n].model = m != NULL ? m->name[j] : p->fixed_model;
			out[n].pos = i;
			out[n++].first = j == 0;
		}
	}
	return n;
}

void
provider_answer_init(struct provider_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->prompt_tokens = a->output_tokens = -1;
}

/*
 * An RFC 3339 time ("2026-12-16T00:00:00Z", as protobuf's Timestamp is
 * written in JSON) or a bare date ("2026-12-16", as OpenAI's shutdown_date
 * is), in epoch ms; 0 when it is neither.
 */
int64_t
provider_time(const char *text)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = text ? strptime(text, "%Y-%m-%d", &tm) : NULL;
	if (end == NULL)
		return 0;
	if (*end == 'T' && (end = strptime(end + 1, "%H:%M:%S", &tm)) == NULL)
		return 0;
	end += *end == '.' ? 1 + strspn(end + 1, "0123456789") : 0;
	if (*end != '\0' && strcmp(end, "Z") != 0)
		return 0;	/* only UTC, which is how both providers write it */
	time_t t = timegm(&tm);
	return t < 0 ? 0 : (int64_t)t * 1000;
}

/*
 * Copies at most max bytes of src as valid UTF-8: a cut falls on a
 * character boundary, and bytes that are not UTF-8 become '?', so that
 * whatever a provider says cannot make the status JSON invalid.
 */
void
provider_text(char *dst, size_t dstlen, const char *src, size_t max)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;
	if (dstlen == 0)
		return;
	if (max > dstlen - 1)
		max = dstlen - 1;
	while (*s != '\0') {
		size_t n = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 && *s >= 0xc2 ? 2 :
		    (*s & 0xf0) == 0xe0 ? 3 : (*s & 0xf8) == 0xf0 && *s <= 0xf4 ? 4 : 0;
		size_t k = 1;
		while (n > 1 && k < n && (s[k] & 0xc0) == 0x80)
			k++;
		int valid = n != 0 && k == n && !(n == 3 && s[0] == 0xe0 && s[1] < 0xa0) &&
		    !(n == 3 && s[0] == 0xed && s[1] >= 0xa0) &&
		    !(n == 4 && s[0] == 0xf0 && s[1] < 0x90) &&
		    !(n == 4 && s[0] == 0xf4 && s[1] >= 0x90);
		size_t take = valid ? n : 1;
		if (o + take > max)
			break;
		if (valid && (n > 1 || *s >= 0x20))
			memcpy(dst + o, s, n);
		else
			dst[o] = valid ? ' ' : '?';	/* control characters, broken bytes */
		o += take;
		s += valid ? n : 1;
	}
	dst[o] = '\0';
}

void
provider_say(struct provider_answer *a, enum provider_verdict v, const char *fmt, ...)
{
	char raw[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	a->verdict = v;
	provider_text(a->err, sizeof(a->err), raw, 300);
}

/* The key is copied into libcurl's list and wiped from the stack at once. */
int
provider_key_header(struct curl_slist **headers, const char *fmt, const char *key)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), fmt, key);
	struct curl_slist *h = n > 0 && n < (int)sizeof(line) ?
	    curl_slist_append(*headers, line) : NULL;
	explicit_bzero(line, sizeof(line));
	if (h == NULL)
		return -1;
	*headers = h;
	return 0;
}

int
provider_b64_image(const char *b64, struct provider_answer *a, const char *what)
{
	if (codec_base64_decode(b64, strlen(b64), &a->img, &a->len) != 0) {
		a->img = NULL;
		provider_say(a, PV_FAILED, "invalid base64 in %s", what);
		return -1;
	}
	a->verdict = PV_OK;
	return 0;
}

/* The token counts of a usage object, named in and out. */
void
provider_usage(const void *usage, const char *in, const char *out, struct provider_answer *a)
{
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(usage, in);
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(usage, out);
	if (cJSON_IsNumber(i) && i->valuedouble >= 0 && i->valuedouble < 1e15)
		a->prompt_tokens = (long)i->valuedouble;
	if (cJSON_IsNumber(o) && o->valuedouble >= 0 && o->valuedouble < 1e15)
		a->output_tokens = (long)o->valuedouble;
}

int
provider_transient_http(long code)
{
	return code == 408 || code == 429 || code == 500 || code == 502 || code == 503 ||
	    code == 504;
}

/*
 * An answer of 1-2 MB that grew by doubling would leave its smaller
 * buffers behind in the heap: one allocation of the announced length
 * instead, when the server gives it.
 */
static size_t
first_capacity(struct provider_call *c)
{
	curl_off_t announced = -1;
	if (curl_easy_getinfo(c->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) !=
	    CURLE_OK || announced <= 0 || (size_t)announced >= c->max_answer)
		return 64 * 1024;
	return (size_t)announced + 1;
}

/*
 * max_answer counts what libcurl hands us, so a gzip body is measured as
 * it decodes: a small compressed answer cannot grow past the limit.
 */
static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct provider_call *c = arg;
	size_t n = size * nmemb;
	if (c->resp_len + n > c->max_answer) {
		c->too_big = 1;
		return 0;	/* libcurl then fails the transfer with CURLE_WRITE_ERROR */
	}
	if (c->resp_len + n + 1 > c->resp_cap) {
		size_t cap = c->resp_cap ? c->resp_cap : first_capacity(c);
		while (cap < c->resp_len + n + 1)
			cap *= 2;
		char *p = realloc(c->resp, cap);
		if (p == NULL)
			return 0;
		c->resp = p;
		c->resp_cap = cap;
	}
	memcpy(c->resp + c->resp_len, data, n);
	c->resp_len += n;
	c->resp[c->resp_len] = '\0';
	return n;
}

static int
start_url(struct provider_call *c, const struct config *cfg, const char *url)
{
	CURL *e = c->easy = curl_easy_init();
	struct curl_slist *h = curl_slist_append(c->headers, "Content-Type: application/json");
	if (e == NULL || h == NULL)
		return -1;
	c->headers = h;
	c->max_answer = (size_t)cfg->max_answer;
	CURLcode rc = CURLE_OK;
	if ((rc = curl_easy_setopt(e, CURLOPT_URL, url)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https")) ||
	    (rc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers)) ||
	    (c->body != NULL && (rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body))) ||
	    (rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, c)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_TIMEOUT, cfg->request_timeout)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, cfg->connect_timeout)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_USERAGENT, "imagegen/" PACKAGE_VERSION)) ||
	    (rc = curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "")))
		return -1;
	return 0;
}

/* One image's request, ready for curl_multi_add_handle. */
int
provider_start(struct provider_call *c, const struct provider *p, const struct config *cfg,
    const char *model, const char *prompt)
{
	char url[4096];
	memset(c, 0, sizeof(*c));
	if (p->request == NULL ||
	    p->request(cfg, model, prompt, url, sizeof(url), &c->headers, &c->body) != 0)
		return -1;
	return start_url(c, cfg, url);
}

/* The provider's model list, a GET, for `imagegen check`. */
int
provider_start_list(struct provider_call *c, const struct provider *p,
    const struct config *cfg)
{
	char url[4096];
	memset(c, 0, sizeof(*c));
	if (p->list_request == NULL || p->list_request(cfg, url, sizeof(url), &c->headers) != 0)
		return -1;
	return start_url(c, cfg, url);
}

/* Worth another attempt: the network failed us. */
static int
transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

/*
 * Retry-After (RFC 9110 10.2.3, seconds or an HTTP-date: libcurl parses
 * both) is a floor the provider's own hint (RetryInfo) may raise.
 */
static long
retry_after_ms(CURL *easy)
{
	curl_off_t after = 0;
	if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &after) != CURLE_OK || after <= 0)
		return 0;
	return after > 86400 ? 86400000L : (long)after * 1000;
}

void
provider_finish(struct provider_call *c, const struct provider *p, const struct config *cfg,
    const char *model, CURLcode rc, struct provider_answer *a)
{
	long code = 0;
	provider_answer_init(a);
	if (rc != CURLE_OK) {
		if (c->too_big)
			provider_say(a, PV_FAILED, "the answer is larger than max_answer "
			    "(%ld bytes)", cfg->max_answer);
		else
			provider_say(a, transient_curl(rc) ? PV_RETRY : PV_FAILED, "%s",
			    rc == CURLE_OPERATION_TIMEDOUT ? "request timed out" :
			    c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		return;
	}
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
	const char *body = c->resp ? c->resp : "";
	if (code == 200) {
		p->parse(body, c->resp_len, a);
		return;
	}
	long after = retry_after_ms(c->easy);
	p->error(cfg, model, code, body, c->resp_len, a);
	if (after > a->retry_after_ms)
		a->retry_after_ms = after;
}

void
provider_free(struct provider_call *c)
{
	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->headers);
	free(c->body);
	free(c->resp);
	memset(c, 0, sizeof(*c));
}

/*
 * sign.c: Standard Webhooks 1.0, in one place: the headers that sign what
 * imagegen posts (progress webhooks, dispatches), the check of what it is
 * posted (progress updates, dispatches), and the refusal of a webhook-id
 * seen before. The secret is "whsec_" and the base64 of the key; the
 * signature is the base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.
 * {body}", sent as "v1,{signature}" in the webhook-signature header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "codec.h"
#include "log.h"
#include "request.h"
#include "sign.h"

#define MAX_SECRETS 9		/* webhook_verify_secrets, rotating, and two more */

static const char challenge[] =
    "WWW-Authenticate: Webhook realm=\"imagegen\", scheme=\"standard-webhooks-v1\"\r\n";

/* Returns 0 with the key, or -1 when whsec is not a "whsec_" secret. */
int
sign_secret(const char *whsec, unsigned char key[SIGN_KEY_MAX], size_t *keylen)
{
	static const char prefix[] = "whsec_";
	unsigned char *raw;
	size_t n;
	if (strncmp(whsec, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	const char *b64 = whsec + sizeof(prefix) - 1;
	if (codec_base64_decode(b64, strlen(b64), &raw, &n) != 0)
		return -1;
	int ok = n >= 16 && n <= SIGN_KEY_MAX;
	if (ok) {
		memcpy(key, raw, n);
		*keylen = n;
	}
	OPENSSL_cleanse(raw, n);
	free(raw);
	return ok ? 0 : -1;
}

int
sign_compute(const unsigned char *key, size_t keylen, const char *id, long long ts,
    const char *body, size_t len, char sig[SIGN_B64_LEN])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int n = snprintf(NULL, 0, "%s.%lld.", id, ts);
	char *msg = n > 0 ? malloc((size_t)n + len + 1) : NULL;
	if (msg == NULL)
		return -1;
	snprintf(msg, (size_t)n + 1, "%s.%lld.", id, ts);
	memcpy(msg + n, body, len);
	int ok = HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)msg, (size_t)n + len,
	    mac, &maclen) != NULL && maclen == 32;
	free(msg);
	if (!ok)
		return -1;
	EVP_EncodeBlock((unsigned char *)sig, mac, (int)maclen);
	return 0;
}

static int
ts_valid(const char *ts, long long now, long long *out)
{
	char *end;
	if (ts == NULL || *ts < '0' || *ts > '9')
		return 0;
	long long t = strtoll(ts, &end, 10);
	if (*end != '\0')
		return 0;
	*out = t;
	return t >= now - SIGN_TOLERANCE_S && t <= now + SIGN_TOLERANCE_S;
}

/* Whether one of the header's space-separated "v1,..." entries is sig. */
static int
header_has(const char *header, const char *sig)
{
	size_t n = strlen(sig);
	for (const char *p = header; *p != '\0';) {
		size_t len = strcspn(p, " ");
		if (len == n + 3 && strncmp(p, "v1,", 3) == 0 &&
		    CRYPTO_memcmp(p + 3, sig, n) == 0)
			return 1;
		p += len;
		p += strspn(p, " ");
	}
	return 0;
}

/*
 * Standard Webhooks verification over the raw body, before it is parsed:
 * a timestamp within SIGN_TOLERANCE_S of now, and a v1 signature made with
 * any of the secrets (several, while one is being rotated). Returns 1 when
 * the message is authentic, else 0 with the reason.
 */
int
sign_verify(char *const *secrets, size_t n_secrets, const char *id, const char *ts,
    const char *header, const char *body, size_t len, long long now, const char **why)
{
	unsigned char key[SIGN_KEY_MAX];
	size_t keylen;
	char sig[SIGN_B64_LEN];
	long long t;
	if (id == NULL || *id == '\0' || ts == NULL || header == NULL) {
		*why = "the webhook-id, webhook-timestamp and webhook-signature headers are required";
		return 0;
	}
	if (!ts_valid(ts, now, &t)) {
		*why = "webhook-timestamp is missing, malformed or more than 5 minutes off";
		return 0;
	}
	for (size_t i = 0; i < n_secrets; i++) {
		int ok = sign_secret(secrets[i], key, &keylen) == 0 &&
		    sign_compute(key, keylen, id, t, body, len, sig) == 0 && header_has(header, sig);
		OPENSSL_cleanse(key, sizeof(key));
		if (ok)
			return 1;
	}
	*why = "no valid webhook-signature";
	return 0;
}

static struct curl_slist *
append(struct curl_slist *list, const char *line)
{
	struct curl_slist *l = curl_slist_append(list, line);
	if (l == NULL)
		curl_slist_free_all(list);
	return l;
}

/*
 * The headers of one attempt at posting body: Content-Type, webhook-id,
 * and with a secret ("" for none) webhook-timestamp and webhook-signature,
 * signed now. NULL when out of memory or the secret is no whsec_ secret.
 */
struct curl_slist *
sign_headers(const char *secret, const char *wid, const char *body)
{
	char line[160], sig[SIGN_B64_LEN];
	unsigned char key[SIGN_KEY_MAX];
	size_t keylen;
	long long ts = (long long)(codec_now_ms() / 1000);
	struct curl_slist *h = append(NULL, "Content-Type: application/json");
	snprintf(line, sizeof(line), "webhook-id: %s", wid);
	h = h ? append(h, line) : NULL;
	if (h == NULL || *secret == '\0')
		return h;
	int ok = sign_secret(secret, key, &keylen) == 0 &&
	    sign_compute(key, keylen, wid, ts, body, strlen(body), sig) == 0;
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok) {
		log_error("webhook %s: cannot sign", wid);
		curl_slist_free_all(h);
		return NULL;
	}
	snprintf(line, sizeof(line), "webhook-timestamp: %lld", ts);
	h = append(h, line);
	snprintf(line, sizeof(line), "webhook-signature: v1,%s", sig);
	return h ? append(h, line) : NULL;
}

/* 401 with the scheme a sender must use, and the reason logged as what's. */
void
sign_refuse(struct request *r, const char *what, const char *why)
{
	log_warn("%s: %s", what, why);
	reply_error_headers(r, 401, challenge, why, NULL);
}

/*
 * A request's raw body and headers against the space-separated secrets,
 * checked before a byte of the body is parsed: 1 when authentic, else 0,
 * answered 401 (what names the route in the log line).
 */
int
sign_request(struct request *r, const char *secrets, const char *what)
{
	char list[8192], *one[MAX_SECRETS] = { NULL }, *save = NULL;
	size_t n = 0;
	const char *why = "";
	snprintf(list, sizeof(list), "%s", secrets);
	for (char *t = strtok_r(list, " ", &save); t != NULL && n < MAX_SECRETS;
	    t = strtok_r(NULL, " ", &save))
		one[n++] = t;
	int ok = sign_verify(one, n, r->webhook_id, r->webhook_timestamp,
	    r->webhook_signature, r->body, r->body_len, (long long)(codec_now_ms() / 1000), &why);
	explicit_bzero(list, sizeof(list));
	if (!ok)
		sign_refuse(r, what, n == 0 ? "no secret is configured to check signatures" : why);
	return ok;
}

/*
 * sign.c: webhook signatures as the Standard Webhooks 1.0 specification
 * has them: the secret is "whsec_" and the base64 of the key; the signature
 * is the base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}",
 * sent as "v1,{signature}" in the webhook-signature header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "codec.h"
#include "sign.h"

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

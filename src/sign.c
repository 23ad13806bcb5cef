/*
 * sign.c: webhook signatures as the Standard Webhooks 1.0 specification
 * has them: the secret is "whsec_" and the base64 of the key; the signature
 * is the base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}",
 * sent as "v1,{signature}" in the webhook-signature header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
